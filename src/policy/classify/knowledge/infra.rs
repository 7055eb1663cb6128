//! Infrastructure CLIs judged by verb (see [`super::verbs`]): virsh, gh, vault, consul, nomad,
//! openstack-style clouds, eksctl/kind/minikube/vagrant/flux, crictl, ctr, lxc/incus, argocd,
//! istioctl, redis-cli, etcdctl, mysqladmin, go. Endpoint and TLS flags that send
//! credentials elsewhere are `R` in the grammars or checked by [`go_endpoints`].

use super::cloud::raw;
use super::programs::{Call, Class::*, Decl, judged};
use super::verbs;
use crate::policy::Tier::{Irreversible as T3, Reversible as T1, Stateful as T2};

fn virsh(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        Some(v @ ("shutdown" | "reboot" | "reset" | "suspend" | "resume")) => {
            c.raise(T2, format!("virsh {v} changes a domain's state"))
        }
        _ => {
            verbs::by_first_verb(c, 1, &[]);
        }
    }
}

fn gh(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    match ops.first().copied() {
        Some("api") => {
            let method = c
                .values("-X")
                .first()
                .map(|v| c.value_text(*v).to_ascii_uppercase());
            let fields = c.has("-f") || c.has("-F") || c.has("--input");
            match method.as_deref() {
                None if !fields => c.describe("gh api GET reads only"),
                Some("GET" | "HEAD") => c.describe("gh api GET reads only"),
                Some("DELETE") => c.raise(T3, "gh api -X DELETE deletes"),
                _ => c.raise(T2, "gh api sends a request that changes something"),
            }
        }
        Some("search" | "status" | "browse") if ops[0] != "browse" => c.describe("gh reads only"),
        _ => {
            verbs::by_first_verb(
                c,
                2,
                &[
                    "pr",
                    "issue",
                    "repo",
                    "release",
                    "run",
                    "workflow",
                    "auth",
                    "secret",
                    "gist",
                    "label",
                    "cache",
                    "codespace",
                    "extension",
                    "project",
                    "ruleset",
                    "variable",
                    "attestation",
                    "org",
                    "ssh-key",
                    "gpg-key",
                    "alias",
                    "config",
                ],
            );
        }
    }
}

fn vault(c: &mut Call<'_>) {
    go_endpoints(
        c,
        &[
            "address",
            "tls-skip-verify",
            "ca-cert",
            "ca-path",
            "agent-address",
        ],
    );
    verbs::by_first_verb(
        c,
        3,
        &[
            "kv",
            "secrets",
            "auth",
            "policy",
            "token",
            "lease",
            "operator",
            "audit",
            "plugin",
            "namespace",
            "pki",
            "transit",
            "ssh",
            "identity",
            "raft",
            "snapshot",
        ],
    );
}

fn consul(c: &mut Call<'_>) {
    go_endpoints(c, &["http-addr", "ca-file", "ca-path", "tls-server-name"]);
    verbs::by_first_verb(
        c,
        3,
        &[
            "kv",
            "acl",
            "catalog",
            "services",
            "connect",
            "intention",
            "config",
            "operator",
            "snapshot",
            "tls",
            "peering",
            "partition",
            "namespace",
        ],
    );
}

fn nomad(c: &mut Call<'_>) {
    go_endpoints(
        c,
        &[
            "address",
            "ca-cert",
            "ca-path",
            "tls-skip-verify",
            "tls-server-name",
        ],
    );
    if go_flag(c, "purge") {
        c.raise(T3, "nomad -purge deletes the job");
    }
    verbs::by_first_verb(
        c,
        3,
        &[
            "job",
            "node",
            "alloc",
            "namespace",
            "deployment",
            "eval",
            "acl",
            "operator",
            "system",
            "server",
            "volume",
            "var",
            "service",
            "quota",
            "sentinel",
            "plugin",
            "recommendation",
            "scaling",
        ],
    );
}

/// CLIs whose verb is first, with their own read verbs and nouns.
fn first_with(c: &mut Call<'_>, reads: &[&str], nouns: &[&str], limit: usize) {
    let ops = c.operand_texts();
    if let Some(w) = ops.iter().take(limit).find(|w| !nouns.contains(*w))
        && reads.contains(w)
    {
        let name = c.name.to_string();
        c.describe(format!("{name} {w} reads only"));
        return;
    }
    verbs::by_first_verb(c, limit, nouns);
}

fn crictl(c: &mut Call<'_>) {
    first_with(
        c,
        &[
            "pods",
            "inspecti",
            "inspectp",
            "statsp",
            "imagefsinfo",
            "images",
            "ps",
        ],
        &[],
        1,
    );
}

fn ctr(c: &mut Call<'_>) {
    first_with(
        c,
        &[],
        &[
            "images",
            "image",
            "i",
            "containers",
            "container",
            "c",
            "tasks",
            "task",
            "t",
            "snapshots",
            "snapshot",
            "namespaces",
            "ns",
            "content",
            "leases",
            "plugins",
            "plugin",
            "sandboxes",
            "install",
        ],
        2,
    );
}

fn lxc(c: &mut Call<'_>) {
    first_with(
        c,
        &[],
        &[
            "config",
            "image",
            "network",
            "storage",
            "profile",
            "remote",
            "snapshot",
            "cluster",
            "project",
            "alias",
            "file",
            "operation",
            "warning",
        ],
        2,
    );
}

fn argocd(c: &mut Call<'_>) {
    first_with(
        c,
        &[],
        &[
            "app",
            "cluster",
            "repo",
            "proj",
            "account",
            "cert",
            "gpg",
            "repocreds",
            "context",
            "appset",
        ],
        2,
    );
}

fn short_first(c: &mut Call<'_>) {
    first_with(c, &[], &[], 2);
}

fn istioctl(c: &mut Call<'_>) {
    first_with(
        c,
        &[
            "analyze",
            "proxy-status",
            "proxy-config",
            "ps",
            "pc",
            "version",
            "x",
            "experimental",
            "bug-report",
            "validate",
        ],
        &[],
        1,
    );
}

fn redis(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    if ops.is_empty() {
        c.raise(T1, "redis-cli without a command is interactive");
        return;
    }
    first_with(
        c,
        &[
            "echo",
            "time",
            "role",
            "lastsave",
            "monitor",
            "hvals",
            "xrange",
            "xlen",
            "strlen",
            "getrange",
            "randomkey",
            "hexists",
            "sismember",
            "zscore",
            "lindex",
            "object",
            "memory",
            "command",
            "latency",
        ],
        &[
            "client", "config", "slowlog", "cluster", "acl", "function", "script", "xinfo",
        ],
        2,
    );
}

fn etcdctl(c: &mut Call<'_>) {
    first_with(
        c,
        &["health", "status"],
        &[
            "member", "endpoint", "snapshot", "alarm", "auth", "role", "user", "lease", "check",
        ],
        2,
    );
}

fn mysqladmin(c: &mut Call<'_>) {
    for word in c.operand_texts().iter().map(|w| w.to_string()) {
        match word.as_str() {
            "status" | "extended-status" | "processlist" | "variables" | "version" | "ping" => {}
            "shutdown" | "drop" => c.raise(T3, format!("mysqladmin {word} stops or deletes")),
            w => c.raise(T2, format!("mysqladmin {w} changes the server")),
        }
    }
}

fn go(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    let words = raw(c);
    match ops.first().copied() {
        None | Some("help" | "version" | "doc") => c.describe("go reads only"),
        Some("env") if !words.iter().any(|w| w == "-w" || w == "-u") => {
            c.describe("go env reads only")
        }
        Some("list" | "vet") => c.raise(T1, "go list/vet may download and build"),
        Some("fmt") => c.raise(T1, "go fmt rewrites files"),
        Some("mod") if matches!(ops.get(1).copied(), Some("graph" | "why" | "verify")) => {
            c.describe("go mod reads only")
        }
        Some(s) => {
            let s = s.to_string();
            c.raise(T2, format!("go {s} builds, runs or changes modules"));
        }
    }
}

fn worst(c: &mut Call<'_>) {
    verbs::by_worst_verb(c, &[]);
}

/// Endpoint and TLS flags of Go-style CLIs that can appear after the subcommand.
fn go_endpoints(c: &mut Call<'_>, flags: &[&str]) {
    for f in flags {
        if go_flag(c, f) {
            let name = c.name.to_string();
            c.raise(
                T2,
                format!("{name} -{f} sends credentials or requests to another endpoint"),
            );
        }
    }
}

/// Any word is `flag` or `flag=…`, with one or two dashes (Go-style CLIs take flags anywhere).
fn go_flag(c: &Call<'_>, flag: &str) -> bool {
    raw(c).iter().any(|w| {
        let bare = w.trim_start_matches('-');
        w.starts_with('-') && (bare == flag || bare.starts_with(&format!("{flag}=")))
    })
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["virsh"],
        Api,
        "@posix -c:,--connect= -d:,--debug= -e:,--escape= -h,--help!h -k:,--keepalive-interval= -K:,--keepalive-count= -l:,--log=!w -q,--quiet -r,--readonly -t,--timing -v,--version!h -V",
        virsh,
    ),
    judged(
        &["gh"],
        Api,
        "@no-abbrev -R:,--repo= --hostname=!R -h,--help!h --version!h -X:,--method= -f:,--field= -F:,--raw-field= -H:,--header= --input=!n -q:,--jq= -t:,--template= -i,--include --paginate --slurp --cache= --silent --verbose -p:,--preview= -w,--web -L:,--limit= -s:,--state= -l:,--label= -a:,--assignee= -A:,--author= -B:,--base= --json= --yes -y",
        gh,
    ),
    judged(
        &["vault", "bao"],
        Api,
        "@posix -h,--help!h -v,--version!h",
        vault,
    ),
    judged(
        &["consul"],
        Api,
        "@posix -h,--help!h -v,--version!h",
        consul,
    ),
    judged(&["nomad"], Api, "@posix -h,--help!h -v,--version!h", nomad),
    judged(
        &[
            "openstack",
            "doctl",
            "hcloud",
            "linode-cli",
            "scw",
            "oci",
            "ibmcloud",
            "aliyun",
        ],
        Api,
        "@no-abbrev --os-auth-url=!R --os-cloud= --os-region-name= --os-project-name= --os-username= --os-password=!k --os-token=!k --insecure!R --os-cacert=!R -f:,--format= -c:,--column= --debug -v,--verbose -h,--help!h --version!h -t:,--access-token=!k --api-url=!R --context= -o:,--output= --config=!r --endpoint=!R --region= --profile=",
        worst,
    ),
    judged(
        &[
            "eksctl", "kind", "minikube", "k3d", "vagrant", "flux", "kubeadm",
        ],
        Api,
        "@no-abbrev -h,--help!h --version!h -v: --verbose= -p:,--profile= --kubeconfig=!R --context= -n:,--name= -f:,--config-file= -r:,--region= --force -y,--yes",
        short_first,
    ),
    judged(
        &["crictl"],
        Api,
        "@no-abbrev -r:,--runtime-endpoint=!R -i:,--image-endpoint=!R -c:,--config= -D,--debug -t:,--timeout= -h,--help!h -v,--version!h",
        crictl,
    ),
    judged(
        &["ctr"],
        Api,
        "@no-abbrev -a:,--address=!R -n:,--namespace= --debug --timeout= --connect-timeout= -h,--help!h -v,--version!h",
        ctr,
    ),
    judged(
        &["lxc", "incus"],
        Api,
        "@no-abbrev --all --force-local --project= -q,--quiet -v,--verbose --debug -h,--help!h --version!h -f:,--format= -c:,--columns=",
        lxc,
    ),
    judged(
        &["argocd"],
        Api,
        "@no-abbrev --server=!R --insecure!R --plaintext --grpc-web --auth-token=!k --config=!r --core -h,--help!h --version!h -o:,--output=",
        argocd,
    ),
    judged(
        &["istioctl"],
        Api,
        "@no-abbrev -c:,--kubeconfig=!R --context= -i:,--istioNamespace= -n:,--namespace= -h,--help!h --vklog= -o:,--output=",
        istioctl,
    ),
    judged(
        &["redis-cli", "valkey-cli", "keydb-cli"],
        Api,
        "@posix -h: -p: -s: -a:!k --user= --pass=!k --askpass -u: -r: -i: -n: -2 -3 -x -X: -d: -D: -c -e -4 -6 --raw --no-raw --quoted-input --csv --json --quoted-json --show-pushes --stat --latency --latency-history --latency-dist --lru-test= --replica --rdb=!w --functions-rdb=!w --pipe!X --pipe-timeout= --bigkeys --memkeys --memkeys-samples= --hotkeys --scan --pattern= --count= --quoted-pattern= --intrinsic-latency= --eval=!r --ldb --ldb-sync-mode --tls --sni= --cacert= --cacertdir= --insecure --tls-ciphers= --cert= --key= --verbose --help!h --version!h -v!h",
        redis,
    ),
    judged(
        &["etcdctl"],
        Api,
        "@no-abbrev --endpoints=!R --cacert= --cert= --key= --user=!k --password=!k --insecure-skip-tls-verify!R --insecure-transport --dial-timeout= --command-timeout= -w:,--write-out= --hex --discovery-srv= --debug --prefix --keys-only --limit= --rev= --from-key --print-value-only --consistency= --sort-by= --order= -h,--help!h --version!h",
        etcdctl,
    ),
    judged(
        &["mysqladmin"],
        Api,
        "-u:,--user= -p::,--password=?!k -h:,--host= -P:,--port= -S:,--socket= --protocol= -v,--verbose -V,--version!h --help!h -?!h -s,--silent -f,--force -i:,--sleep= -c:,--count= -w:,--wait= -r,--relative -E,--vertical -C,--compress --ssl-mode= --defaults-file=!r --defaults-extra-file=!r --no-defaults",
        mysqladmin,
    ),
    judged(&["go"], Api, "@posix -h!h --help!h", go),
];
