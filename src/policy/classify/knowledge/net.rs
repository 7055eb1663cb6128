//! iproute2 (`ip`, `tc`, `bridge`) and NetworkManager (`nmcli`): objects and verbs matched by
//! prefix in the programs' own table order (`ip l s` is `ip link set`, `nmcli c d` is
//! `nmcli connection down`), each verb read-only, a change, or a cut of the network.

use super::programs::{Call, Class::*, Decl, judged};
use crate::policy::Tier::{Irreversible as T3, Stateful as T2};
use crate::policy::options::{CommandMatch, match_command};

/// How a verb counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Change,
    /// Takes the network down or removes all of something.
    Cut,
}

use Kind::{Change, Cut, Read};

/// iproute2 objects, in `ip`'s table order (the first one a word prefixes wins).
const IP_OBJECTS: &[&str] = &[
    "address",
    "addrlabel",
    "maddress",
    "route",
    "rule",
    "neighbor",
    "neighbour",
    "ntable",
    "ntbl",
    "link",
    "l2tp",
    "fou",
    "ila",
    "macsec",
    "tunnel",
    "tuntap",
    "tap",
    "token",
    "tcpmetrics",
    "tcp_metrics",
    "monitor",
    "xfrm",
    "mroute",
    "mrule",
    "netns",
    "netconf",
    "vrf",
    "sr",
    "nexthop",
    "mptcp",
    "ioam",
    "stats",
    "help",
];

/// Verbs of one iproute2 object, in the object's own matching order.
fn ip_verbs(object: &str) -> &'static [(&'static str, Kind)] {
    match object {
        "address" => &[
            ("add", Change),
            ("change", Change),
            ("chg", Change),
            ("replace", Change),
            ("delete", Change),
            ("list", Read),
            ("show", Read),
            ("lst", Read),
            ("flush", Cut),
            ("save", Read),
            ("showdump", Read),
            ("restore", Change),
            ("help", Read),
        ],
        "link" => &[
            ("add", Change),
            ("change", Change),
            ("set", Change),
            ("replace", Change),
            ("delete", Change),
            ("show", Read),
            ("lst", Read),
            ("list", Read),
            ("xstats", Read),
            ("afstats", Read),
            ("property", Change),
            ("help", Read),
        ],
        "route" | "mroute" => &[
            ("add", Change),
            ("change", Change),
            ("chg", Change),
            ("replace", Change),
            ("prepend", Change),
            ("append", Change),
            ("test", Change),
            ("delete", Change),
            ("list", Read),
            ("show", Read),
            ("lst", Read),
            ("get", Read),
            ("flush", Cut),
            ("save", Read),
            ("restore", Change),
            ("showdump", Read),
            ("help", Read),
        ],
        "netns" => &[
            ("list", Read),
            ("show", Read),
            ("lst", Read),
            ("list-id", Read),
            ("add", Change),
            ("attach", Change),
            ("set", Change),
            ("delete", Change),
            ("identify", Read),
            ("pids", Read),
            ("exec", Read),
            ("monitor", Read),
            ("help", Read),
        ],
        "monitor" => &[("all", Read)],
        _ => &[
            ("add", Change),
            ("change", Change),
            ("chg", Change),
            ("replace", Change),
            ("delete", Change),
            ("del", Change),
            ("show", Read),
            ("list", Read),
            ("lst", Read),
            ("get", Read),
            ("count", Read),
            ("flush", Change),
            ("deleteall", Change),
            ("update", Change),
            ("set", Change),
            ("allocspi", Change),
            ("save", Read),
            ("restore", Change),
            ("showdump", Read),
            ("exec", Read),
            ("identify", Read),
            ("pids", Read),
            ("help", Read),
            ("bucket", Read),
        ],
    }
}

/// The first verb in `verbs` that `word` is a prefix of.
fn verb(word: &str, verbs: &[(&'static str, Kind)]) -> Option<(&'static str, Kind)> {
    if let Some(v) = verbs.iter().find(|(v, _)| *v == word) {
        return Some(*v);
    }
    (!word.is_empty())
        .then(|| verbs.iter().find(|(v, _)| v.starts_with(word)).copied())
        .flatten()
}

fn ip(c: &mut Call<'_>) {
    let ops = c.operands();
    let words: Vec<String> = ops
        .iter()
        .filter_map(|&i| c.args().get(i).map(|w| w.text.clone()))
        .collect();
    let Some(first) = words.first() else {
        c.describe("ip with no object prints help");
        return;
    };
    let Some(object) = match_command(first, IP_OBJECTS, CommandMatch::FirstPrefix) else {
        c.raise(T2, format!("ip {first} is not a known object"));
        return;
    };
    // `ip xfrm state list`: the verb follows a sub-object.
    let verb_at = if object == "xfrm" { 2 } else { 1 };
    let Some(word) = words.get(verb_at) else {
        c.describe(format!("ip {object} shows"));
        return;
    };
    let Some((v, kind)) = verb(word, ip_verbs(object)) else {
        // Words after the object that are not verbs are a `show` filter (`ip a dev eth0`)
        // unless they could be one: iproute2 rejects unknown verbs.
        if word.starts_with('-') || object == "monitor" {
            return;
        }
        c.raise(T2, format!("ip {object} {word} is not a known read"));
        return;
    };
    if object == "netns" && v == "exec" {
        if let Some(&cmd) = ops.get(3) {
            c.describe("ip netns exec runs a command in a namespace");
            c.runs_argv(cmd);
        }
        return;
    }
    if object == "vrf" && v == "exec" {
        if let Some(&cmd) = ops.get(3) {
            c.runs_argv(cmd);
        }
        return;
    }
    let down =
        object == "link" && matches!(v, "set" | "change") && words.iter().any(|w| w == "down");
    match kind {
        Read => c.describe(format!("ip {object} {v} reads only")),
        _ if down => c.raise(T3, "ip link set … down cuts the network"),
        Cut => c.raise(
            T3,
            format!("ip {object} {v} removes every entry (cuts the network)"),
        ),
        Change => c.raise(T2, format!("ip {object} {v} changes network configuration")),
    }
}

const TC_OBJECTS: &[&str] = &[
    "qdisc", "class", "filter", "chain", "actions", "action", "monitor", "exec", "help",
];

fn tc(c: &mut Call<'_>) {
    let words = c.operand_texts();
    let Some(first) = words.first() else {
        return;
    };
    let Some(object) = match_command(first, TC_OBJECTS, CommandMatch::FirstPrefix) else {
        c.raise(T2, format!("tc {first} is not a known object"));
        return;
    };
    if matches!(object, "monitor" | "help") {
        return;
    }
    if object == "exec" {
        c.raise(T2, "tc exec runs a BPF program");
        return;
    }
    let verbs: &[(&str, Kind)] = &[
        ("add", Change),
        ("change", Change),
        ("replace", Change),
        ("link", Change),
        ("delete", Change),
        ("del", Change),
        ("show", Read),
        ("list", Read),
        ("lst", Read),
        ("get", Read),
        ("flush", Change),
        ("help", Read),
    ];
    let Some(word) = words.get(1) else {
        return;
    };
    match verb(word, verbs) {
        Some((_, Read)) => {}
        Some((v, _)) => c.raise(T2, format!("tc {object} {v} changes traffic control")),
        None => c.raise(T2, format!("tc {object} {word} is not a known read")),
    }
}

const BRIDGE_OBJECTS: &[&str] = &["link", "fdb", "mdb", "vlan", "vni", "monitor", "help"];

fn bridge(c: &mut Call<'_>) {
    let words = c.operand_texts();
    let Some(first) = words.first() else {
        return;
    };
    let Some(object) = match_command(first, BRIDGE_OBJECTS, CommandMatch::FirstPrefix) else {
        c.raise(T2, format!("bridge {first} is not a known object"));
        return;
    };
    let Some(word) = words.get(1) else {
        return;
    };
    let verbs: &[(&str, Kind)] = &[
        ("add", Change),
        ("append", Change),
        ("replace", Change),
        ("delete", Change),
        ("del", Change),
        ("set", Change),
        ("change", Change),
        ("show", Read),
        ("list", Read),
        ("lst", Read),
        ("get", Read),
        ("flush", Change),
        ("help", Read),
        ("global", Change),
        ("tunnelshow", Read),
    ];
    if object == "monitor" {
        return;
    }
    match verb(word, verbs) {
        Some((_, Read)) => {}
        Some((v, _)) => c.raise(T2, format!("bridge {object} {v} changes bridging")),
        None => c.raise(T2, format!("bridge {object} {word} is not a known read")),
    }
}

const NMCLI_OBJECTS: &[&str] = &[
    "general",
    "monitor",
    "networking",
    "radio",
    "connection",
    "device",
    "agent",
    "help",
];

fn nmcli(c: &mut Call<'_>) {
    let words = c.operand_texts();
    let Some(first) = words.first() else {
        c.describe("nmcli shows the status");
        return;
    };
    let Some(object) = match_command(first, NMCLI_OBJECTS, CommandMatch::FirstPrefix) else {
        c.raise(T2, format!("nmcli {first} is not a known object"));
        return;
    };
    let rest = &words[1..];
    let word = rest.first().copied();
    let verb_of = |table: &[(&'static str, Kind)]| word.and_then(|w| verb(w, table));
    let (name, kind) = match object {
        "monitor" | "help" => ("", Read),
        "agent" => ("agent", Change),
        "general" => match verb_of(&[
            ("status", Read),
            ("hostname", Read),
            ("permissions", Read),
            ("logging", Read),
            ("reload", Change),
        ]) {
            None if word.is_none() => ("status", Read),
            Some(("hostname" | "logging", _)) if rest.len() > 1 => ("set", Change),
            Some(found) => found,
            None => ("?", Change),
        },
        "networking" => match verb_of(&[("on", Change), ("off", Cut), ("connectivity", Read)]) {
            None if word.is_none() => ("status", Read),
            Some(found) => found,
            None => ("?", Change),
        },
        "radio" => {
            let switch = rest.iter().any(|w| matches!(*w, "on" | "off"));
            if switch {
                ("switch", Change)
            } else {
                ("status", Read)
            }
        }
        "connection" => match verb_of(&[
            ("show", Read),
            ("up", Change),
            ("down", Cut),
            ("add", Change),
            ("edit", Change),
            ("delete", Cut),
            ("monitor", Read),
            ("modify", Change),
            ("clone", Change),
            ("reload", Change),
            ("load", Change),
            ("import", Change),
            ("export", Read),
            ("migrate", Change),
        ]) {
            None if word.is_none() => ("show", Read),
            Some(("export", _)) if rest.len() > 2 => ("export", Change),
            Some(found) => found,
            None => ("?", Change),
        },
        "device" => match verb_of(&[
            ("status", Read),
            ("show", Read),
            ("set", Change),
            ("up", Change),
            ("connect", Change),
            ("reapply", Change),
            ("modify", Change),
            ("down", Cut),
            ("disconnect", Cut),
            ("delete", Cut),
            ("monitor", Read),
            ("wifi", Read),
            ("lldp", Read),
            ("checkpoint", Change),
        ]) {
            None if word.is_none() => ("status", Read),
            Some(("wifi", _)) => match rest.get(1).copied() {
                None | Some("list" | "show-password") => ("wifi list", Read),
                Some(w) if "list".starts_with(w) => ("wifi list", Read),
                Some(_) => ("wifi", Change),
            },
            Some(found) => found,
            None => ("?", Change),
        },
        _ => ("?", Change),
    };
    match kind {
        Read => c.describe(format!("nmcli {object} {name} reads only")),
        Change => c.raise(
            T2,
            format!("nmcli {object} {name} changes the network configuration"),
        ),
        Cut => c.raise(
            T3,
            format!("nmcli {object} {name} takes the network down or deletes it"),
        ),
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["ip"],
        Risky,
        "@first-match -loops= -family= -4 -6 -0 -B -M -I -D -human -human-readable -iec -stats -statistics -details -resolve -oneline -timestamp -tshort -Version!h -force -batch=!r -brief -json -pretty -rcvbuf= -color=? -colour=? -help!h -netns= -Numeric -all -echo",
        ip,
    ),
    judged(
        &["tc"],
        Risky,
        "@first-match -stats -statistics -details -raw -pretty -batch=!r -force -netns= -Numeric -oneline -json -color=? -colour=? -iec -timestamp -tshort -cf= -graph -names -nm -conf= -help!h -Version!h -echo -4 -6 -0",
        tc,
    ),
    judged(
        &["bridge"],
        Risky,
        "@first-match -stats -statistics -details -json -pretty -oneline -timestamp -tshort -family= -4 -6 -0 -batch=!r -force -netns= -Numeric -color=? -colour=? -compressvlans -help!h -Version!h",
        bridge,
    ),
    judged(
        &["nmcli"],
        Risky,
        "@posix -a,--ask -c:,--colors= -e:,--escape= -f:,--fields= -g:,--get-values= -h,--help!h -m:,--mode= -o,--overview -p,--pretty -s,--show-secrets -t,--terse -v,--version!h -w:,--wait= --complete-args --offline",
        nmcli,
    ),
];
