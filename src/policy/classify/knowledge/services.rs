//! systemd and service managers: `systemctl` and the `*ctl` family by verb, `service` by its
//! action, each with its declared options.

use super::programs::{Call, Class::*, Decl, judged};
use crate::policy::Tier::{Irreversible as T3, Stateful as T2};

const SYSTEMCTL_READS: &[&str] = &[
    "status",
    "show",
    "cat",
    "is-active",
    "is-enabled",
    "is-failed",
    "is-system-running",
    "get-default",
    "help",
    "show-environment",
    "list-units",
    "list-unit-files",
    "list-sockets",
    "list-timers",
    "list-jobs",
    "list-dependencies",
    "list-machines",
    "list-paths",
    "list-automounts",
];

const SYSTEMCTL_POWER: &[&str] = &[
    "poweroff",
    "reboot",
    "halt",
    "kexec",
    "soft-reboot",
    "suspend",
    "hibernate",
    "hybrid-sleep",
    "suspend-then-hibernate",
    "sleep",
    "emergency",
    "rescue",
    "isolate",
    "default",
    "exit",
    "switch-root",
];

fn systemctl(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    let Some(verb) = ops.first().map(|v| v.to_string()) else {
        c.describe("systemctl lists units");
        return;
    };
    if SYSTEMCTL_READS.contains(&verb.as_str()) || verb.starts_with("list-") {
        c.describe(format!("systemctl {verb} reads only"));
    } else if SYSTEMCTL_POWER.contains(&verb.as_str()) {
        c.raise(
            T3,
            format!("systemctl {verb} stops or restarts the machine"),
        );
    } else if verb == "clean" {
        c.raise(T3, "systemctl clean removes a unit's state, cache or logs");
    } else {
        c.raise(T2, format!("systemctl {verb} changes services"));
    }
}

/// `loginctl`, `networkctl`, `resolvectl`, `hostnamectl`, `timedatectl`, `localectl`,
/// `busctl`, `machinectl`, `portablectl`, `homectl`, `coredumpctl`, `bootctl`.
fn ctl(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let Some(verb) = c.operand_texts().first().map(|v| v.to_string()) else {
        c.describe(format!("{name} shows status"));
        return;
    };
    let reads = matches!(
        verb.as_str(),
        "status"
            | "show"
            | "query"
            | "statistics"
            | "tree"
            | "introspect"
            | "monitor"
            | "help"
            | "info"
            | "dump"
            | "debug"
            | "capture"
            | "timesync-status"
            | "show-timesync"
            | "hostname"
            | "chassis"
            | "icon-name"
            | "deployment"
            | "location"
            | "lldp"
            | "dns"
            | "domain"
            | "default-route"
            | "llmnr"
            | "mdns"
            | "dnssec"
            | "dnsovertls"
            | "nta"
            | "log-level"
            | "serve"
            | "search"
            | "inspect"
            | "get-property"
            | "call-check"
            | "is-installed"
            | "reboot-to-firmware"
            | "random-seed"
    ) || verb.starts_with("list")
        || verb.starts_with("show-");
    // Verbs that only read without arguments and set with them.
    let sets_with_args = matches!(
        verb.as_str(),
        "hostname"
            | "chassis"
            | "icon-name"
            | "deployment"
            | "location"
            | "dns"
            | "domain"
            | "default-route"
            | "llmnr"
            | "mdns"
            | "dnssec"
            | "dnsovertls"
            | "nta"
            | "log-level"
            | "reboot-to-firmware"
    ) && c.operands().len() > 1;
    if name == "coredumpctl" && matches!(verb.as_str(), "list" | "info" | "dump" | "debug") {
        if verb == "debug" {
            c.raise(T2, "coredumpctl debug runs a debugger");
        }
        return;
    }
    if name == "bootctl"
        && matches!(
            verb.as_str(),
            "status" | "list" | "is-installed" | "random-seed"
        )
        && verb != "random-seed"
    {
        return;
    }
    if !reads || sets_with_args {
        c.raise(T2, format!("{name} {verb} changes system state"));
    }
}

fn service(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    match ops.get(1).copied() {
        Some("status") => c.describe("service status reads only"),
        None if c.has("--status-all") => c.describe("service --status-all reads only"),
        None if ops.is_empty() => {}
        _ => c.raise(T2, "service changes a service"),
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["systemctl"],
        Risky,
        "-h,--help!h --version!h --system --user --capsule= -H:,--host= -M:,--machine= -t:,--type= --state= --failed -p:,--property= -P: -a,--all -l,--full -r,--recursive --reverse --after --before --with-dependencies --job-mode= -T,--show-transaction --show-types --value --check-inhibitors= -i --kill-whom= --kill-value= -s:,--signal= --what= --now --dry-run -q,--quiet --no-warn --wait --no-block --no-wall --no-reload --legend= --no-legend --no-pager --no-ask-password --global --runtime -f,--force --preset-mode= --root= --image= --image-policy= -n:,--lines= -o:,--output= --firmware-setup --boot-loader-menu= --boot-loader-entry= --reboot-argument= --plain --timestamp= --read-only --mkdir --marked --drop-in= --when=",
        systemctl,
    ),
    judged(
        &[
            "loginctl",
            "networkctl",
            "resolvectl",
            "hostnamectl",
            "timedatectl",
            "localectl",
            "busctl",
            "machinectl",
            "portablectl",
            "homectl",
            "coredumpctl",
            "bootctl",
            "userdbctl",
            "oomctl",
        ],
        Risky,
        "-h,--help!h --version!h -H:,--host= -M:,--machine= --no-pager --no-legend --no-ask-password -p:,--property= -P: --value -a,--all -l,--full -n:,--lines= -o:,--output= -j --json= -s:,--signal= --kill-whom= --adjust-system-clock -i:,--interface= --monotonic --static --transient --pretty --legend= --cache= --zone= --search= --raw= --system --user --address= --show-machine --unique --acquired --activatable --match= --list --quiet -q --verbose --expect-reply= --auto-start= --allow-interactive-authorization= --timeout= --augment-creds= --watch-bind= --destination= --stats -1 -r,--reverse -S:,--since= -U:,--until= -F:,--field= -D:,--directory= --file= --debugger= -A:,--debugger-arguments= --path= --esp-path= --boot-path= --print-esp-path --print-boot-path -x,--print-root-device -4 -6 -t:,--type= -c:,--class= --service-address= --service-name= --ipv4 --ipv6 --dhcp --stats --graceful --drop-in=",
        ctl,
    ),
    judged(
        &["service"],
        Risky,
        "@posix --status-all -h,--help!h --version!h",
        service,
    ),
];
