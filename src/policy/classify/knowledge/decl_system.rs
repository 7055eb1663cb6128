//! Declared system diagnostics (processes, sockets, devices, logs, clocks, kernel settings) with
//! the options and operands that turn them into changes.

use super::programs::{Call, Class::*, Decl, decl, judged};
use crate::policy::Tier::{self, Irreversible as T3, Reversible as T1, Stateful as T2};

/// Any operand (or the option `name`) makes the command a change at `tier`.
fn operands_change(c: &mut Call<'_>, tier: Tier, what: &str) {
    if !c.operands().is_empty() {
        let name = c.name.to_string();
        c.raise(tier, format!("{name} {what}"));
    }
}

fn hostname(c: &mut Call<'_>) {
    operands_change(c, T2, "with an operand sets the host name");
}

fn date(c: &mut Call<'_>) {
    if c.operand_texts().iter().any(|o| !o.starts_with('+')) {
        c.raise(T2, "date with an operand sets the clock");
    }
}

fn sysctl(c: &mut Call<'_>) {
    if c.operand_texts().iter().any(|o| o.contains('=')) {
        c.raise(T2, "sysctl NAME=value changes a kernel parameter");
    }
}

fn top(c: &mut Call<'_>) {
    if !c.has("-b") {
        c.raise(T1, "top without -b is interactive (it can kill and renice)");
    }
}

fn kill(c: &mut Call<'_>) {
    let signal_zero = c
        .values("-s")
        .iter()
        .any(|v| matches!(c.value_text(*v), "0" | "EXIT"))
        || c.values("-#").iter().any(|v| c.value_text(*v) == "0");
    let lists = c.has("-l") || c.has("-L");
    if !(signal_zero || lists || c.operands().is_empty()) {
        c.raise(T2, "kill signals processes");
    }
}

fn crontab(c: &mut Call<'_>) {
    if c.has("-r") {
        c.raise(T3, "crontab -r removes every job");
    } else if !c.has("-l") {
        c.raise(T2, "crontab installs or edits jobs");
        let ops = c.operand_texts();
        if ops.is_empty() && !c.has("-e") || ops == ["-"] {
            c.j.stdin_code = super::StdinCode::Cron;
        }
    }
}

fn passwd(c: &mut Call<'_>) {
    if !c.has("-S") {
        c.raise(T3, "passwd changes credentials");
    }
}

fn chage(c: &mut Call<'_>) {
    if !c.has("-l") {
        c.raise(T2, "chage changes password ageing");
    }
}

fn ssh_keygen(c: &mut Call<'_>) {
    let reads = c.has("-l") || c.has("-F") || c.has("-y") || c.has("-Q") || c.has("-B");
    if c.has("-R") {
        c.raise(T1, "ssh-keygen -R rewrites known_hosts");
    } else if !reads {
        c.raise(T1, "ssh-keygen writes key files");
    }
}

fn prlimit(c: &mut Call<'_>) {
    let sets = c.parsed.items.iter().any(|i| match i {
        crate::policy::options::Item::Opt {
            id, value: Some(_), ..
        } => c.grammar.tags(*id).contains('m'),
        _ => false,
    });
    if sets || !c.operands().is_empty() {
        c.raise(T2, "prlimit sets resource limits or runs a command");
    }
    let ops = c.operands();
    if let Some(&first) = ops.first() {
        c.runs_argv(first);
    }
}

fn udevadm(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        Some("info" | "monitor" | "settle" | "test-builtin" | "verify" | "cat" | "wait") | None => {
        }
        Some("test") => c.raise(T1, "udevadm test runs rules"),
        Some(_) => c.raise(T2, "udevadm changes device state"),
    }
}

fn chronyc(c: &mut Call<'_>) {
    let reads = [
        "tracking",
        "sources",
        "sourcestats",
        "activity",
        "clients",
        "ntpdata",
        "serverstats",
        "rtcdata",
        "smoothing",
        "selectdata",
        "authdata",
        "sourcename",
        "waitsync",
        "help",
    ];
    match c.operand_texts().first() {
        None => c.raise(T1, "chronyc without a command is interactive"),
        Some(v) if reads.contains(v) => {}
        Some(v) => {
            let v = v.to_string();
            c.raise(T2, format!("chronyc {v} changes time keeping"));
        }
    }
}

fn ipset(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        Some("list" | "save" | "test" | "help" | "version" | "-L" | "-S" | "-T") | None => {}
        Some("destroy" | "flush" | "x" | "-X" | "-F") => {
            c.raise(T3, "ipset destroy/flush removes sets")
        }
        Some(v) => {
            let v = v.to_string();
            c.raise(T2, format!("ipset {v} changes sets"));
        }
    }
}

pub(super) const DECLS: &[Decl] = &[
    decl(
        &["ps"],
        Reader,
        "-A -a -d -N --deselect -e -T -r -x -C: -G: -g: -p: --pid= --ppid= -q: --quick-pid= -s: --sid= -t: --tty= -U: -u: --user= --User= --Group= --group= -c -f -F -j -l -M -O: -o: --format= -s -u -v -X -y -Z --context --cols= --columns= --cumulative -H --forest -h --headers --no-headers -k: --sort= -L -m -n: -w --width= --rows= --lines= --signames -V!h --version!h --help=?!h --info",
    ),
    decl(
        &["pgrep", "pidof"],
        Reader,
        "-d:,--delimiter= -l,--list-name -a,--list-full -v,--inverse -w,--lightweight -c,--count -f,--full -g:,--pgroup= -G:,--group= -i,--ignore-case -n,--newest -o,--oldest -O:,--older= -P:,--parent= -s:,--session= -t:,--terminal= -u:,--euid= -U:,--uid= -x,--exact -F:,--pidfile= -L,--logpidfile -r:,--runstates= -A,--ignore-ancestors --cgroup= --ns= --nslist= -q -S -z -h,--help!h -V,--version!h",
    ),
    decl(
        &["pstree"],
        Reader,
        "-a,--arguments -A,--ascii -c,--compact-not -C:,--color= -g,--show-pgids -G,--vt100 -h,--highlight-all -H:,--highlight-pid= -l,--long -n,--numeric-sort -N:,--ns-sort= -p,--show-pids -s,--show-parents -S,--ns-changes -t,--thread-names -T,--hide-threads -u,--uid-changes -U,--unicode -V,--version!h -Z,--security-context",
    ),
    decl(
        &["ss"],
        Reader,
        "-h,--help!h -V,--version!h -n,--numeric -r,--resolve -a,--all -l,--listening -o,--options -e,--extended -m,--memory -p,--processes -T,--threads -i,--info --tipcinfo -s,--summary --tos --cgroup -b,--bpf -E,--events -Z,--context -z,--contexts -N:,--net= -4,--ipv4 -6,--ipv6 -0,--packet -t,--tcp -M,--mptcp -S,--sctp -u,--udp -d,--dccp -w,--raw -x,--unix --tipc --vsock --xdp -f:,--family= -K,--kill!s -H,--no-header -O,--oneline --inet-sockopt -A:,--query=,--socket= -D:,--diag=!w -F:,--filter=",
    ),
    decl(
        &["netstat"],
        Reader,
        "-r,--route -i,--interfaces -g,--groups -s,--statistics -M,--masquerade -v,--verbose -W,--wide -n,--numeric --numeric-hosts --numeric-ports --numeric-users -N,--symbolic -e,--extend -p,--program -o,--timers -c,--continuous -l,--listening -a,--all -F -C -Z,--context -t,--tcp -u,--udp -w,--raw -x,--unix -4 -6 -A: --protocol= -h,--help!h -V,--version!h",
    ),
    decl(
        &["lsblk"],
        Reader,
        "-A,--noempty -D,--discard -E:,--dedup= -I:,--include= -J,--json -M,--merge -O,--output-all -P,--pairs -S,--scsi -N,--nvme -v,--virtio -T,--tree=? -a,--all -b,--bytes -d,--nodeps -e:,--exclude= -f,--fs -i,--ascii -l,--list -m,--perms -n,--noheadings -o:,--output= -p,--paths -r,--raw -s,--inverse -t,--topology -w:,--width= -x:,--sort= -y,--shell -z,--zoned --sysroot= -Q:,--filter= --highlight= --ct= --ct-filter= -H,--list-columns -h,--help!h -V,--version!h",
    ),
    decl(
        &["lscpu"],
        Reader,
        "-a,--all -b,--online -B,--bytes -C::,--caches=? -c,--offline -J,--json -e::,--extended=? -p::,--parse=? -s:,--sysroot= -x,--hex -y,--physical --output-all -r:,--raw= -h,--help!h -V,--version!h",
    ),
    decl(
        &["lsmem"],
        Reader,
        "-J,--json -P,--pairs -a,--all -b,--bytes -n,--noheadings -o:,--output= --output-all -r,--raw -S:,--split= -s:,--sysroot= --summary=? -h,--help!h -V,--version!h",
    ),
    decl(
        &["lsipc"],
        Reader,
        "-m,--shmems -q,--queues -s,--semaphores -g,--global -i:,--id= --noheadings --notruncate --time-format= -b,--bytes -c,--creator -e,--export -J,--json -n,--newline -l,--list -o:,--output= -P,--numeric-perms -r,--raw -t,--time -y,--shell -h,--help!h -V,--version!h",
    ),
    decl(
        &["lslocks"],
        Reader,
        "-b,--bytes -J,--json -i,--noinaccessible -n,--noheadings -o:,--output= --output-all -p:,--pid= -r,--raw -u,--notruncate -h,--help!h -V,--version!h",
    ),
    decl(
        &["lsns"],
        Reader,
        "-J,--json -l,--list -n,--noheadings -o:,--output= --output-all -p:,--task= -r,--raw -u,--notruncate -W,--nowrap -t:,--type= -T::,--tree=? -P,--persistent -Q:,--filter= -H,--list-columns -h,--help!h -V,--version!h",
    ),
    decl(
        &["lsof"],
        Reader,
        "-?!h -h!h -a -b -C -c: -d: -D: -e: -E -f -F:: -g:: -i:: -K:: -k: -l -L:: -m: -M -n -N -o:: -O -p: -P -Q -r:: -R -s:: -S:: -t -T:: -u: -U -v!h -V -w -x:: -X -z:: -Z::",
    ),
    decl(
        &["lsmod", "lsusb", "lspci"],
        Reader,
        "-v,--verbose -vv -vvv -t,--tree -s: -d: -D: -k -n -nn -b -x -xxx -xxxx -m -mm -M -A: -O: -H: -i: -p: -q -Q -P -PP -G -F: -j -J -y -h,--help!h -V,--version!h",
    ),
    decl(
        &["findmnt"],
        Reader,
        "-s,--fstab -m,--mtab -k,--kernel -p::,--poll=? -w:,--timeout= -A,--all -a,--ascii -b,--bytes -C,--nocanonicalize -c,--canonicalize -D,--df -d:,--direction= -e,--evaluate -F:,--tab-file= -f,--first-only -i,--invert -I,--dfi -J,--json -l,--list -N:,--task= -n,--noheadings -O:,--options= -o:,--output= --output-all -P,--pairs --pseudo --shadowed -Q:,--filter= -R,--submounts -r,--raw --real -S:,--source= -T:,--target= --tree -M:,--mountpoint= -t:,--types= -U,--uniq -u,--notruncate -v,--nofsroot -y,--shell -x,--verify --verbose --vfs-all -H,--list-columns -h,--help!h -V,--version!h",
    ),
    decl(
        &["blkid"],
        Reader,
        "-c:,--cache-file= -d,--no-encoding -g,--garbage-collect!1 -o:,--output= -k,--list-filesystems -s:,--match-tag= -t:,--match-token= -l,--list-one -L:,--label= -U:,--uuid= -p,--probe -i,--info -H:,--hint= -S:,--size= -O:,--offset= -u:,--usages= -n:,--match-types= -D,--no-part-details -h,--help!h -V,--version!h",
    ),
    decl(
        &["who"],
        Reader,
        "-a,--all -b,--boot -d,--dead -H,--heading --ips -l,--login --lookup -m -p,--process -q,--count -r,--runlevel -s,--short -t,--time -T,-w,--mesg -u,--users --message --writable --help!h --version!h",
    ),
    decl(
        &["w"],
        Reader,
        "-h,--no-header -u,--no-current -s,--short -f,--from -o,--old-style -i,--ip-addr -p,--pids --help!h -V,--version!h",
    ),
    decl(
        &["last", "lastb"],
        Reader,
        "-# -a,--hostlast -d,--dns -f:,--file= -F,--fulltimes -i,--ip -n:,--limit= -R,--nohostname -s:,--since= -t:,--until= -p:,--present= -w,--fullnames -x,--system -T,--tab-separated --time-format= -h,--help!h -V,--version!h",
    ),
    decl(
        &["lastlog"],
        Reader,
        "-b:,--before= -C,--clear!1 -h,--help!h -R:,--root= -S,--set!1 -t:,--time= -u:,--user=",
    ),
    decl(
        &["uptime"],
        Reader,
        "-p,--pretty -h,--help!h -s,--since -c,--container -r,--raw -V,--version!h",
    ),
    decl(
        &["free"],
        Reader,
        "-b,--bytes --kilo --mega --giga --tera --peta -k,--kibi -m,--mebi -g,--gibi --tebi --pebi -h,--human --si -l,--lohi -L,--line -t,--total -v,--committed -s:,--seconds= -c:,--count= -w,--wide --help!h -V,--version!h",
    ),
    decl(
        &["vmstat"],
        Reader,
        "-a,--active -f,--forks -m,--slabs -n,--one-header -s,--stats -d,--disk -D,--disk-sum -p:,--partition= -S:,--unit= -w,--wide -t,--timestamp -y,--no-first -h,--help!h -V,--version!h",
    ),
    decl(
        &["iostat", "mpstat", "pidstat", "cifsiostat", "tapestat"],
        Reader,
        "-c -d -h -k -m -N -s -t -V!h -x -y -z -p:: -j: -g: -H -o: --dec= --human --pretty --compact -A -I: -n: -N: -P: -T -u -r -w -e -l -R -U:: -v -G: --debuginfo --help!h",
    ),
    decl(
        &["sar"],
        Reader,
        "-A -B -b -C -d -F:: -H -h -I: -i: -j: -m: -n: -P: -p -q:: -r:: -S -t -u:: -V!h -v -W -w -y -z --dec= --help!h --human --pretty -s: -e: -f: -o:!w",
    ),
    judged(
        &["top"],
        Reader,
        "@posix -b -c -d: -E: -e: -H -h!h -i -n: -O -o: -p: -S -s -U: -u: -V!h -w:: -1",
        top,
    ),
    decl(
        &["iotop"],
        Reader,
        "-o,--only -b,--batch -n:,--iter= -d:,--delay= -p:,--pid= -u:,--user= -P,--processes -a,--accumulated -k,--kilobytes -t,--time -q,--quiet --no-help -h,--help!h --version!h",
    ),
    decl(
        &["iftop"],
        Reader,
        "-h!h -n -N -p -b -B -P -i: -f: -F: -l -m: -c: -t -s: -L: -o:",
    ),
    decl(
        &["dmesg"],
        Reader,
        "-C,--clear!s -c,--read-clear!s -D,--console-off!s -E,--console-on!s -F:,--file= -f:,--facility= -H,--human -J,--json -k,--kernel -L::,--color=? -l:,--level= -n:,--console-level=!s -P,--nopager -p,--force-prefix -r,--raw --noescape -S,--syslog -s:,--buffer-size= -u,--userspace -w,--follow -W,--follow-new -x,--decode -d,--show-delta -e,--reltime -T,--ctime -t,--notime --time-format= --since= --until= -h,--help!h -V,--version!h",
    ),
    decl(
        &["journalctl"],
        Reader,
        "-# --system --user -M:,--machine= -m,--merge -D:,--directory= --file= --root= --image= --image-policy= --namespace= -S:,--since= -U:,--until= -c:,--cursor= --after-cursor= --cursor-file=!w -b::,--boot=? -u:,--unit= --user-unit= -t:,--identifier= -T:,--exclude-identifier= -p:,--priority= --facility= -g:,--grep= --case-sensitive=? -k,--dmesg -o:,--output= --output-fields= -n::,--lines=? -r,--reverse --show-cursor --utc -x,--catalog --no-hostname --no-full -l,--full -a,--all -f,--follow --no-tail -q,--quiet --no-pager -e,--pager-end --interval= --verify-key= --force -h,--help!h --version!h -N,--fields -F:,--field= --list-boots --list-invocations --list-namespaces --disk-usage --vacuum-size=!s --vacuum-files=!s --vacuum-time=!s --verify --sync!s --relinquish-var!s --smart-relinquish-var!s --flush!s --rotate!s --header --list-catalog --dump-catalog --update-catalog!s --setup-keys!s --new-id128 --since-boot -I --invocation= --synchronize-on-exit=",
    ),
    judged(
        &[
            "hostname",
            "dnsdomainname",
            "domainname",
            "nisdomainname",
            "ypdomainname",
        ],
        Reader,
        "-a,--alias -A,--all-fqdns -b,--boot!s -d,--domain -f,--fqdn,--long -F:,--file=!s -i,--ip-address -I,--all-ip-addresses -s,--short -y,--yp,--nis -v,--verbose -h,--help!h -V,--version!h",
        hostname,
    ),
    judged(
        &["date"],
        Reader,
        "-d:,--date= --debug -f:,--file= -I::,--iso-8601=? --resolution -R,--rfc-email --rfc-3339= -r:,--reference= -s:,--set=!s -u,--utc,--universal --help!h --version!h",
        date,
    ),
    decl(
        &["hwclock"],
        Reader,
        "-r,--show --get --set!s -s,--hctosys!s -w,--systohc!s --systz!s -a,--adjust!s --param-get= --param-set=!s --predict -u,--utc -l,--localtime -f:,--rtc= --directisa --date= --delay= --update-drift!s --noadjfile --adjfile= --test -v,--verbose -h,--help!h -V,--version!h",
    ),
    judged(
        &["sysctl"],
        Reader,
        "-a,--all -A -X --deprecated --dry-run -b,--binary -e,--ignore -N,--names -n,--values -p::,--load=?!s -f:: --system!s -r:,--pattern= -q,--quiet -w,--write!s -o -x -d -h,--help!h -V,--version!h",
        sysctl,
    ),
    judged(
        &["kill"],
        Risky,
        "-# -s:,--signal= -q:,--queue= -l,--list -L,--table -n: --verbose --timeout= -h,--help!h -V,--version!h -p",
        kill,
    ),
    judged(
        &["crontab"],
        Risky,
        "-u: -l -r -e -i -n -c -T -V!h -s -x:",
        crontab,
    ),
    judged(
        &["passwd"],
        Risky,
        "-a,--all -d,--delete -e,--expire -h,--help!h -k,--keep-tokens -i:,--inactive= -l,--lock -n:,--mindays= -q,--quiet -r:,--repository= -R:,--root= -P:,--prefix= -S,--status -u,--unlock -w:,--warndays= -x:,--maxdays=",
        passwd,
    ),
    judged(
        &["chage"],
        Risky,
        "-d:,--lastday= -E:,--expiredate= -h,--help!h -i,--iso8601 -I:,--inactive= -l,--list -m:,--mindays= -M:,--maxdays= -R:,--root= -P:,--prefix= -W:,--warndays=",
        chage,
    ),
    judged(
        &["ssh-keygen"],
        Risky,
        "@posix -A -a: -B -b: -C: -c -D: -E: -e -F: -f: -g -H -h -I: -i -K -k -L -l -M: -m: -N: -n: -O: -P: -p -Q -q -R: -r: -s: -t: -U -u -V: -v -w: -Y: -y -z: -G: -T: -j: -J: -x: -W: -S:",
        ssh_keygen,
    ),
    judged(
        &["prlimit"],
        Risky,
        "@posix -p:,--pid= -o:,--output= --noheadings --raw --verbose -h,--help!h -V,--version!h -c::,--core=?!m -d::,--data=?!m -e::,--nice=?!m -f::,--fsize=?!m -i::,--sigpending=?!m -l::,--memlock=?!m -m::,--rss=?!m -n::,--nofile=?!m -q::,--msgqueue=?!m -r::,--rtprio=?!m -s::,--stack=?!m -t::,--cpu=?!m -u::,--nproc=?!m -v::,--as=?!m -x::,--locks=?!m -y::,--rttime=?!m",
        prlimit,
    ),
    judged(
        &["udevadm"],
        Risky,
        "@posix -h,--help!h -V,--version!h -d,--debug",
        udevadm,
    ),
    decl(
        &["systemd-analyze"],
        Reader,
        "--recursive-errors= --offline= --threshold= --security-policy= --json= --no-pager --system --user --global -H:,--host= -M:,--machine= --order --require --from-pattern= --to-pattern= --fuzz= --man=? --generators=? --iterations= --base-time= --profile= -h,--help!h --version!h -q,--quiet --root= --image= --table --no-legend --scale-svg= --detailed --tldr --instance=",
    ),
    decl(
        &[
            "systemd-cgls",
            "systemd-cgtop",
            "systemd-detect-virt",
            "systemd-delta",
            "systemd-path",
        ],
        Reader,
        "-a,--all -l,--full -k -u:,--unit= --user-unit= -M:,--machine= --no-pager -x,--xattr= -c,--cgroup-id= -p -t -c -m -i -r,--raw -b,--batch -n:,--iterations= -d:,--delay= --depth= --order= --recursive= -P -1 -v,--vm -C,--container --chroot --private-users --cvm --list -q,--quiet --type= --diff= --no-legend -h,--help!h --version!h",
    ),
    decl(
        &["lsb_release"],
        Reader,
        "-v,--version -i,--id -d,--description -r,--release -c,--codename -a,--all -s,--short -h,--help!h",
    ),
    decl(
        &["pmap"],
        Reader,
        "-x,--extended -X -XX -c,--read-rc -C:,--read-rc-from= -d,--device -q,--quiet -p,--show-path -A:,--range= -h,--help!h -V,--version!h",
    ),
    decl(
        &["pwdx", "tload", "slabtop", "watch-free"],
        Reader,
        "-h,--help!h -V,--version!h -o,--once -s:,--sort= -d:,--delay=",
    ),
    decl(
        &["readelf"],
        Reader,
        "-a,--all -h,--file-header -l,--program-headers,--segments -S,--section-headers,--sections -g,--section-groups -t,--section-details -e,--headers -s,--syms,--symbols --dyn-syms --lto-syms --sym-base= -C,--demangle=? --no-demangle -U:,--unicode= -n,--notes -r,--relocs -u,--unwind -d,--dynamic -V,--version-info -A,--arch-specific -c,--archive-index -D,--use-dynamic -L,--lint,--enable-checks -x:,--hex-dump= -p:,--string-dump= -R:,--relocated-dump= -z,--decompress -w::,--debug-dump=? -P,--process-links -I,--histogram -W,--wide -T,--silent-truncation -H,--help!h -v,--version!h",
    ),
    decl(
        &["nm"],
        Reader,
        "-a,--debug-syms -A,--print-file-name -B -C,--demangle=? --no-demangle --recurse-limit --no-recurse-limit -D,--dynamic -e -f:,--format= -g,--extern-only --ifunc-chars= -j,--just-symbols -l,--line-numbers -n,--numeric-sort -o -p,--no-sort -P,--portability -r,--reverse-sort -S,--print-size -s,--print-armap --quiet --size-sort --special-syms --synthetic -t:,--radix= --target= -u,--undefined-only -U,--defined-only --unicode= -W,--no-weak --with-symbol-versions -X: -h,--help!h -V,--version!h",
    ),
    decl(
        &["objdump"],
        Reader,
        "-a,--archive-headers -f,--file-headers -p,--private-headers -P:,--private= -h,--section-headers,--headers -x,--all-headers -d,--disassemble -D,--disassemble-all --disassemble=? -S,--source --source-comment=? -s,--full-contents -g,--debugging -e,--debugging-tags -G,--stabs -W::,--dwarf=? -L,--process-links --ctf=? --sframe=? -t,--syms -T,--dynamic-syms -r,--reloc -R,--dynamic-reloc -v,--version!h -i,--info -H,--help!h -b:,--target= -m:,--architecture= -j:,--section= -M:,--disassembler-options= -E: -I:,--include= -l,--line-numbers -F,--file-offsets -C,--demangle=? -w,--wide -z,--disassemble-zeroes --start-address= --stop-address= --no-addresses --prefix-addresses --no-show-raw-insn --show-raw-insn --insn-width= --adjust-vma= --show-all-symbols --special-syms --inlines --prefix= --prefix-strip= --dwarf-depth= --dwarf-start= --dwarf-check --visualize-jumps=? --disassembler-color= -U:,--unicode=",
    ),
    decl(
        &["getfacl"],
        Reader,
        "-a,--access -d,--default -c,--omit-header -e,--all-effective -E,--no-effective -s,--skip-base -R,--recursive -L,--logical -P,--physical -t,--tabular -n,--numeric -p,--absolute-names -v,--version!h -h,--help!h",
    ),
    decl(&["lsattr"], Reader, "-R -V -a -d -l -p -v"),
    decl(&["getcap"], Reader, "-h!h -n -r -v"),
    decl(
        &["locale"],
        Reader,
        "-a,--all-locales -m,--charmaps -c,--category-name -k,--keyword-name -v,--verbose -?,--help!h --usage!h -V,--version!h",
    ),
    decl(
        &["cal", "ncal"],
        Reader,
        "-1,--one -3,--three -n:,--months= -S,--span -s,--sunday -m,--monday -j,--julian -y,--year -Y,--twelve -w,--week=? --vertical -v -c:,--columns= --color=? -h,--help!h -V,--version!h -b -C -e -o -p -d: -H:",
    ),
    decl(&["getconf"], Reader, "-a -v: -h!h"),
    decl(
        &["mountpoint"],
        Reader,
        "-q,--quiet --nofollow -d,--fs-devno -x,--devno -h,--help!h -V,--version!h",
    ),
    decl(
        &["ipcs"],
        Reader,
        "-i:,--id= -h,--help!h -V,--version!h -m,--shmems -q,--queues -s,--semaphores -a,--all -t,--time -p,--pid -c,--creator -l,--limits -u,--summary --human -b,--bytes",
    ),
    decl(
        &["dmidecode", "biosdecode"],
        Reader,
        "-d:,--dev-mem= -h,--help!h -q,--quiet -s:,--string= -t:,--type= -H:,--handle= -u,--dump --dump-bin=!w --from-dump= --no-sysfs --oem-string= -V,--version!h",
    ),
    decl(
        &["lshw"],
        Reader,
        "@single -version!h -help!h -X -html -short -xml -json -businfo -dump=!w -class= -C= -c= -enable= -disable= -quiet -sanitize -numeric -notime",
    ),
    decl(
        &["sensors"],
        Reader,
        "-c:,--config-file= -h,--help!h -s,--set!s -A,--no-adapter -u -j -f,--fahrenheit -v,--version!h --bus-list",
    ),
    decl(
        &["nvidia-smi"],
        Reader,
        "@long-only -h,--help!h -L,--list-gpus -B,--list-excluded-gpus -q,--query -u,--unit -i:,--id= -f:,--filename=!w -x,--xml-format -d:,--display= -l:,--loop= --lms= --query-gpu= --format= --pm=!s -e:!s -p:!s -c:!s -r!s --pl=!s --ac=!s --rac!s --lgc=!s --rgc!s --mig=!s --persistence-mode=!s --gpu-reset!s",
    ),
    judged(
        &["chronyc"],
        Risky,
        "@posix -4 -6 -n -N -c -d -e -m -h: -p: -f: -a -v!h --version!h --help!h",
        chronyc,
    ),
    decl(
        &["ntpq"],
        Reader,
        "@posix -4 -6 -c: -d -i -n -p -w --help!h --version!h",
    ),
    decl(&["tput", "clear"], Reader, "-T: -S -V!h -x"),
    decl(&["printenv"], Reader, "-0,--null --help!h --version!h"),
    judged(
        &["ipset"],
        Risky,
        "@posix -o: -q -r -s -n -t -x -V!h -h!h -f:!r",
        ipset,
    ),
    decl(
        &["ausearch"],
        Reader,
        "-a: -c: --checkpoint=!w -e: --extra-keys --extra-labels --extra-obj2 --extra-time -f: --format= -ga: -ge: -gi: -h,--help!h -hn: -i,--interpret -if: -k: -l,--line-buffered -m: --message= -n: --node= -o: -p: -pp: -r,--raw -sc: --session= -sv: -te: -ts: -tm: -ua: -ue: -ui: -ul: -uu: -v,--version!h -vm: -x: --input-logs --just-one --debug --escape=",
    ),
    decl(
        &["aureport"],
        Reader,
        "-au -a -c -cr -e -f -h!h -i -if: -k -l -m -ma -n -nc -p -r -s -sc -t -te: -tm: -ts: -u -v!h -x --comm --failed --success --summary --node= --input-logs --tty --virt --integrity --escape= --debug",
    ),
    judged(
        &["semanage"],
        Risky,
        "@posix -h,--help!h",
        |c: &mut Call<'_>| {
            let listing = c.operand_texts().iter().skip(1).all(|w| {
                matches!(
                    *w,
                    "-l" | "--list"
                        | "-n"
                        | "--noheading"
                        | "-C"
                        | "--locallist"
                        | "-E"
                        | "--extract"
                )
            });
            if c.operands().len() < 2 || !listing {
                c.raise(T2, "semanage changes SELinux policy");
            }
        },
    ),
    decl(
        &["multipath"],
        Risky,
        "-v: -b: -B -d!m -l -ll -f!s -F!s -T: -r!s -i -a!s -c -C!s -q -u -U -w!s -W!s -p: -R: -h!h",
    ),
    decl(
        &["pg_isready"],
        Network,
        "-d:,--dbname= -h:,--host= -p:,--port= -q,--quiet -t:,--timeout= -U:,--username= -V,--version!h -?,--help!h",
    ),
    decl(
        &["pg_dump", "pg_dumpall"],
        Network,
        "-a,--data-only -b,--large-objects,--blobs -B,--no-large-objects -c,--clean -C,--create -d:,--dbname= -E:,--encoding= -f:,--file=!w -F:,--format= -h:,--host= -j:,--jobs= -n:,--schema= -N:,--exclude-schema= -O,--no-owner -p:,--port= -R -s,--schema-only -S:,--superuser= -t:,--table= -T:,--exclude-table= -U:,--username= -v,--verbose -V,--version!h -w,--no-password -W,--password -x,--no-privileges,--no-acl -Z:,--compress= -?,--help!h --column-inserts --inserts --if-exists --quote-all-identifiers --no-comments --no-publications --no-subscriptions --no-tablespaces --no-unlogged-table-data --on-conflict-do-nothing --rows-per-insert= --section= --snapshot= --strict-names --use-set-session-authorization --load-via-partition-root --disable-triggers --enable-row-security --extra-float-digits= --lock-wait-timeout= --role= -g,--globals-only -r,--roles-only -l:,--database= --exclude-database=",
    ),
    decl(
        &[
            "getsebool",
            "sestatus",
            "getenforce",
            "aa-status",
            "apparmor_status",
            "mokutil",
        ],
        Reader,
        "-a -v -b -h,--help!h --version!h --enabled --profiled --enforced --complaining --kill --special-unconfined --process-mixed --json --pretty-json -l,--list-enrolled --sb-state -t,--test-key=",
    ),
];
