//! Verbs: how cloud and infrastructure CLIs are judged. Read verbs (get, list, describe, show,
//! status, logs, version, …) are tier 0, destructive verbs (delete, destroy, rm, remove,
//! terminate, purge, prune, drop, uninstall, flush, …) tier 3, and every other verb tier 2.
//! Hyphenated operation names are judged by their first word (`describe-instances`,
//! `delete-bucket`) or, for libvirt's `pool-destroy` style, their last.

use super::programs::Call;
use crate::policy::Tier::{Irreversible as T3, Stateful as T2};

/// What a verb does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    Read,
    Destroy,
    Other,
}

/// Read verbs that are never nouns (safe to find anywhere in a command path).
const STRICT_READ: &[&str] = &[
    "get",
    "list",
    "ls",
    "describe",
    "show",
    "status",
    "view",
    "inspect",
    "search",
    "whoami",
    "explain",
    "diff",
    "validate",
    "wait",
    "read",
    "lookup",
    "print-access-token",
    "print-identity-token",
    "version",
    "preview",
    "lint",
    "template",
    "tail",
    "watch",
    "query",
    "find",
    "count",
    "verify",
    "can-i",
    "current-context",
    "get-contexts",
];

/// Read verbs of some CLIs that other CLIs use as nouns (found only in a verb's position).
const READ: &[&str] = &[
    "logs",
    "log",
    "info",
    "top",
    "history",
    "hist",
    "output",
    "outputs",
    "events",
    "env",
    "ps",
    "images",
    "stats",
    "df",
    "health",
    "ping",
    "cat",
    "members",
    "tree",
    "graph",
    "providers",
    "summary",
    "help",
    "capabilities",
    "nodeinfo",
    "dominfo",
    "dumpxml",
    "domstate",
    "domifaddr",
    "domiflist",
    "domblklist",
    "domstats",
    "vcpuinfo",
    "sysinfo",
    "uri",
    "domid",
    "domname",
    "domuuid",
    "api-resources",
    "api-versions",
    "cluster-info",
    "keys",
    "scan",
    "mget",
    "hget",
    "hgetall",
    "hkeys",
    "lrange",
    "llen",
    "smembers",
    "scard",
    "zrange",
    "zcard",
    "type",
    "ttl",
    "pttl",
    "exists",
    "dbsize",
    "slowlog",
    "processlist",
    "extended-status",
    "variables",
    "port",
    "show-password",
    "net-dhcp-leases",
    "tracking",
    "sources",
    "whatis",
    "plan-show",
    "domblkstat",
    "domifstat",
    "dommemstat",
    "domjobinfo",
    "domdisplay",
    "domcontrol",
    "domhostname",
    "domfsinfo",
    "domblkinfo",
    "domblkerror",
    "domcapabilities",
    "iothreadinfo",
    "vcpucount",
    "maxvcpus",
    "freecell",
    "nodecpustats",
    "nodememstats",
    "hostname",
];

const DESTROY: &[&str] = &[
    "delete",
    "destroy",
    "rm",
    "remove",
    "terminate",
    "purge",
    "prune",
    "drop",
    "uninstall",
    "flush",
    "flushall",
    "flushdb",
    "erase",
    "wipe",
    "rb",
    "rmi",
    "undefine",
    "del",
    "deregister",
    "unlink",
    "un",
    "shutdown",
    "nuke",
];

/// Operation names that read by their prefix but write or run something.
const NOT_READ: &[&str] = &["get-credentials", "get-login", "get-kubeconfig"];

const OTHER: &[&str] = &[
    "create",
    "update",
    "set",
    "add",
    "apply",
    "deploy",
    "run",
    "start",
    "stop",
    "restart",
    "reset",
    "ssh",
    "scp",
    "cp",
    "mv",
    "sync",
    "exec",
    "attach",
    "import",
    "export",
    "login",
    "logout",
    "configure",
    "enable",
    "disable",
    "detach",
    "resize",
    "scale",
    "patch",
    "edit",
    "replace",
    "rollback",
    "install",
    "upgrade",
    "push",
    "pull",
    "build",
    "tag",
    "label",
    "annotate",
    "cordon",
    "uncordon",
    "drain",
    "invoke",
    "call",
    "send",
    "publish",
    "submit",
    "cancel",
    "move",
    "copy",
    "upload",
    "download",
    "mount",
    "unmount",
    "connect",
    "disconnect",
    "associate",
    "disassociate",
    "modify",
    "put",
    "post",
    "write",
    "register",
    "grant",
    "revoke",
    "rotate",
    "reboot",
    "suspend",
    "resume",
    "promote",
    "failover",
    "approve",
    "deny",
    "init",
    "refresh",
    "taint",
    "untaint",
    "unlock",
    "lock",
    "force-unlock",
    "generate",
    "sign",
    "encrypt",
    "decrypt",
    "open",
    "browse",
    "up",
    "down",
    "kill",
    "pause",
    "unpause",
    "commit",
    "save",
    "load",
    "expose",
    "autoscale",
    "debug",
    "proxy",
    "port-forward",
    "certificate",
    "reconcile",
    "define",
    "console",
    "autostart",
    "setmem",
    "setvcpus",
    "migrate",
    "clone",
    "merge",
    "fork",
    "seal",
    "unseal",
    "renew",
    "hincrby",
    "incr",
    "decr",
    "lpush",
    "rpush",
    "sadd",
    "zadd",
    "expire",
    "rename",
    "mset",
    "hset",
    "undo",
    "deprecate",
    "undelete",
    "restore",
    "recover",
    "repair",
    "rerun",
    "trigger",
    "approve",
    "close",
    "reopen",
    "edit",
    "checkout",
    "transfer",
    "archive",
    "unarchive",
    "activate",
    "deactivate",
    "assign",
    "unassign",
    "bind",
    "unbind",
    "link",
];

/// Judge one word as a verb, or `None` when it is not one this table knows. `strict` leaves
/// out read verbs that other CLIs use as nouns.
pub(crate) fn verb(word: &str, strict: bool) -> Option<Verb> {
    let w = word.to_ascii_lowercase();
    let w = w.as_str();
    if NOT_READ.contains(&w) {
        return Some(Verb::Other);
    }
    if STRICT_READ.contains(&w) || !strict && READ.contains(&w) {
        return Some(Verb::Read);
    }
    if DESTROY.contains(&w) {
        return Some(Verb::Destroy);
    }
    if OTHER.contains(&w) {
        return Some(Verb::Other);
    }
    let (head, tail) = match (w.split_once('-'), w.rsplit_once('-')) {
        (Some((head, _)), Some((_, tail))) => (head, tail),
        _ => return None,
    };
    if DESTROY.contains(&head) || DESTROY.contains(&tail) || head == "terminate" {
        return Some(Verb::Destroy);
    }
    let reads = matches!(
        head,
        "get"
            | "list"
            | "describe"
            | "show"
            | "view"
            | "print"
            | "lookup"
            | "search"
            | "query"
            | "estimate"
            | "preview"
            | "validate"
            | "simulate"
            | "dump"
            | "read"
    ) || matches!(
        tail,
        "list" | "info" | "show" | "status" | "get" | "dumpxml" | "lookup" | "stats" | "leases"
    );
    if reads {
        return Some(Verb::Read);
    }
    (OTHER.contains(&head) || OTHER.contains(&tail)).then_some(Verb::Other)
}

/// Judge a CLI whose verb comes first (after nouns such as `kv`, `container`): the first of
/// its first `limit` operands that is a known verb, skipping `nouns`. No verb at all is a
/// change (tier 2): an operation the table does not know.
pub(crate) fn by_first_verb(
    c: &mut Call<'_>,
    limit: usize,
    nouns: &[&str],
) -> Option<(usize, Verb)> {
    let name = c.name.to_string();
    let ops = c.operands();
    for (n, at) in ops.iter().copied().enumerate().take(limit) {
        let word = c.args().get(at).map_or("", |w| w.text.as_str()).to_string();
        if nouns.contains(&word.as_str()) {
            continue;
        }
        if let Some(v) = verb(&word, false) {
            apply(c, &format!("{name} {word}"), v);
            return Some((n, v));
        }
    }
    no_verb(c, &name, &ops);
    None
}

/// Judge a CLI whose command path has nouns of any depth (`gcloud compute instances list`):
/// the worst verb among all operands (skipping `nouns`), where only unambiguous read verbs
/// count as reads. No verb at all is a change.
pub(crate) fn by_worst_verb(c: &mut Call<'_>, nouns: &[&str]) -> Option<Verb> {
    let name = c.name.to_string();
    let ops = c.operands();
    let mut worst: Option<(Verb, String)> = None;
    for at in ops.iter().copied() {
        let word = c.args().get(at).map_or("", |w| w.text.as_str()).to_string();
        if nouns.contains(&word.as_str()) {
            continue;
        }
        if let Some(v) = verb(&word, true) {
            let rank = |v: Verb| match v {
                Verb::Read => 0,
                Verb::Other => 1,
                Verb::Destroy => 2,
            };
            if worst.as_ref().is_none_or(|(w, _)| rank(v) > rank(*w)) {
                worst = Some((v, word));
            }
        }
    }
    match worst {
        Some((v, word)) => {
            apply(c, &format!("{name} … {word}"), v);
            Some(v)
        }
        None => {
            no_verb(c, &name, &ops);
            None
        }
    }
}

fn no_verb(c: &mut Call<'_>, name: &str, ops: &[usize]) {
    let shown = ops
        .first()
        .and_then(|at| c.args().get(*at))
        .map_or(String::new(), |w| w.text.clone());
    if ops.is_empty() {
        c.describe(format!("{name} with no command prints help"));
    } else {
        c.raise(
            T2,
            format!("{name} {shown}: no read verb this table knows (a change)"),
        );
    }
}

/// Apply a verb's tier with a rule naming `what`.
pub(crate) fn apply(c: &mut Call<'_>, what: &str, v: Verb) {
    match v {
        Verb::Read => c.describe(format!("{what} reads only")),
        Verb::Destroy => c.raise(T3, format!("{what} deletes or destroys")),
        Verb::Other => c.raise(T2, format!("{what} changes state")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs() {
        assert_eq!(verb("describe-instances", true), Some(Verb::Read));
        assert_eq!(verb("get-caller-identity", true), Some(Verb::Read));
        assert_eq!(verb("get-credentials", true), Some(Verb::Other));
        assert_eq!(verb("delete-bucket", true), Some(Verb::Destroy));
        assert_eq!(verb("terminate-instances", true), Some(Verb::Destroy));
        assert_eq!(verb("pool-destroy", true), Some(Verb::Destroy));
        assert_eq!(verb("net-list", true), Some(Verb::Read));
        assert_eq!(verb("run-instances", true), Some(Verb::Other));
        assert_eq!(verb("compute", true), None);
        assert_eq!(verb("images", true), None);
        assert_eq!(verb("images", false), Some(Verb::Read));
        assert_eq!(verb("DELETE", true), Some(Verb::Destroy));
        assert_eq!(verb("my-vm", true), None);
    }
}
