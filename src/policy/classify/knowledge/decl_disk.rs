//! Declared disk, file-system and mount tools: the forms that read a device (`blockdev
//! --getsize64`, `parted -l`, `dumpe2fs -h`, `smartctl -a`) and the ones that rewrite it.

use super::programs::{Call, Class::*, Decl, decl, judged};
use crate::policy::Tier::{Irreversible as T3, Stateful as T2};

fn mount(c: &mut Call<'_>) {
    let listing = c.operands().is_empty() && !c.has("-a") && !c.has("--move");
    if !listing {
        c.raise(T2, "mount changes mounts");
    }
}

fn swapon(c: &mut Call<'_>) {
    if !c.operands().is_empty() || c.has("-a") {
        c.raise(T2, "swapon enables swap");
    }
}

fn parted(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    let reads = ops.iter().skip(1).all(|o| {
        matches!(
            *o,
            "print"
                | "p"
                | "unit"
                | "s"
                | "B"
                | "KiB"
                | "MiB"
                | "GiB"
                | "free"
                | "list"
                | "all"
                | "help"
        )
    });
    if !(c.has("-l") || reads && ops.len() >= 2) {
        c.raise(T3, "parted rewrites partition tables");
    }
}

fn fdisk(c: &mut Call<'_>) {
    if !c.has("-l") {
        let name = c.name.to_string();
        c.raise(T3, format!("{name} rewrites partition tables"));
    }
}

fn sfdisk(c: &mut Call<'_>) {
    let reads = [
        "-l",
        "-d",
        "-s",
        "-g",
        "-J",
        "-V",
        "-F",
        "--part-type",
        "--part-uuid",
        "--part-label",
        "--part-attrs",
        "-r",
    ];
    let changes = c.has("--delete")
        || c.has("--move-data")
        || c.has("-N")
        || c.has("-A")
        || c.has("--relocate");
    let part_set = ["--part-type", "--part-uuid", "--part-label", "--part-attrs"]
        .iter()
        .any(|o| c.has(o))
        && c.operands().len() > 2;
    if changes || part_set || !reads.iter().any(|o| c.has(o)) {
        c.raise(T3, "sfdisk rewrites partition tables");
    }
}

fn e2fsck(c: &mut Call<'_>) {
    if !(c.has("-n") || c.has("-N")) || c.has("-y") || c.has("-p") || c.has("-a") {
        let name = c.name.to_string();
        c.raise(T2, format!("{name} repairs a file system"));
    }
}

fn tune2fs(c: &mut Call<'_>) {
    let only_list = c.parsed.items.iter().all(|i| match i {
        crate::policy::options::Item::Opt { id, .. } => c.grammar.tags(*id).contains('m'),
        _ => true,
    });
    if !only_list {
        c.raise(T2, "tune2fs changes file system settings");
    }
}

fn debugfs(c: &mut Call<'_>) {
    if c.has("-w") {
        c.raise(T3, "debugfs -w edits a file system directly");
    }
}

fn wipefs(c: &mut Call<'_>) {
    if (c.has("-a") || c.has("-o")) && !c.has("-n") {
        c.raise(T3, "wipefs erases signatures");
    }
}

fn mdadm(c: &mut Call<'_>) {
    let reads =
        c.has("--detail") || c.has("--examine") || c.has("--query") || c.has("--detail-platform");
    if c.has("--zero-superblock") {
        c.raise(T3, "mdadm --zero-superblock erases array metadata");
    } else if !reads {
        c.raise(T2, "mdadm changes arrays");
    }
}

fn cryptsetup(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    match ops.first().copied() {
        Some(
            "luksDump" | "status" | "isLuks" | "luksUUID" | "tcryptDump" | "bitlkDump"
            | "fvault2Dump" | "benchmark",
        ) => {}
        Some(
            "luksFormat" | "erase" | "luksErase" | "reencrypt" | "luksKillSlot" | "luksRemoveKey",
        ) => c.raise(T3, "cryptsetup destroys keys or data"),
        _ => c.raise(T2, "cryptsetup changes encrypted devices"),
    }
}

fn losetup(c: &mut Call<'_>) {
    let listing = c.operands().is_empty() && !c.has("-d") && !c.has("-D") && !c.has("-c");
    if !listing {
        c.raise(T2, "losetup attaches or detaches loop devices");
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["mount"],
        Reader,
        "-a,--all -c,--no-canonicalize -f,--fake -F,--fork -T:,--fstab= -i,--internal-only -l,--show-labels -m::,--mkdir=? -n,--no-mtab --options-mode= --options-source= --options-source-force -o:,--options= -O:,--test-opts= -r,--read-only -t:,--types= --source= --target= --target-prefix= -v,--verbose -w,--rw,--read-write -N:,--namespace= -h,--help!h -V,--version!h -L:,--label= -U:,--uuid= -B,--bind -M,--move -R,--rbind --make-shared --make-slave --make-private --make-unbindable --make-rshared --make-rslave --make-rprivate --make-runbindable",
        mount,
    ),
    judged(
        &["swapon"],
        Reader,
        "-a,--all -d::,--discard=? -e,--ifexists -f,--fixpgsz -o:,--options= -p:,--priority= -s,--summary --show=? --noheadings --raw --bytes -v,--verbose -h,--help!h -V,--version!h -L: -U:",
        swapon,
    ),
    decl(
        &["blockdev"],
        Reader,
        "-q -v --report -h,--help!h -V,--version!h --getsz --setro!s --setrw!s --getro --getdiscardzeroes --getss --getpbsz --getiomin --getioopt --getalignoff --getmaxsect --getbsz --setbsz=!s --getsize --getsize64 --setra=!s --getra --setfra=!s --getfra --flushbufs!s --rereadpt!s --getdiskseq --getzonesz",
    ),
    judged(
        &["parted"],
        Risky,
        "@posix -l,--list -m,--machine -j,--json -s,--script -f,--fix -a:,--align= -h,--help!h -v,--version!h",
        parted,
    ),
    judged(
        &["fdisk"],
        Risky,
        "-b:,--sector-size= -B,--protect-boot -c::,--compatibility=? -L::,--color=? -l,--list -x,--list-details -n,--noauto-pt -o:,--output= -s,--getsz -t:,--type= -u::,--units=? -C:,--cylinders= -H:,--heads= -S:,--sectors= -w:,--wipe= -W:,--wipe-partitions= --lock=? -h,--help!h -V,--version!h",
        fdisk,
    ),
    judged(
        &["sfdisk"],
        Risky,
        "-A,--activate -d,--dump -g,--show-geometry -J,--json -l,--list -F,--list-free -r,--reorder -s,--show-size -T,--list-types -V,--verify --relocate= --delete -N: --part-label --part-type --part-uuid --part-attrs --disk-id --backup-pt-sectors= --move-data=? -a,--append -b,--backup -f,--force --color=? -N: -n,--no-act --no-reread --no-tell-kernel -O:,--backup-file= -o:,--output= -q,--quiet -u:,--unit= -w:,--wipe= -W:,--wipe-partitions= -X:,--label= -Y:,--label-nested= -G,--show-pt-geometry -L,--Linux --lock=? -h,--help!h -v,--version!h",
        sfdisk,
    ),
    decl(
        &["dumpe2fs"],
        Reader,
        "@posix -b -o: -f -g -h -i -m -x -V!h",
    ),
    judged(
        &["e2fsck", "fsck", "fsck.ext2", "fsck.ext3", "fsck.ext4"],
        Risky,
        "@posix -p -a -n -y -c -f -v -b: -B: -j: -l: -L: -t: -z: -C: -d -D -E: -k -r -N -A -R -T -M -P -s -V!h",
        e2fsck,
    ),
    decl(&["xfs_info", "xfs_db"], Reader, "-r -t -V!h"),
    judged(
        &["tune2fs"],
        Risky,
        "@posix -l!m -c: -C: -e: -E: -f -g: -i: -j -J: -L: -m: -M: -o: -O: -r: -Q: -T: -u: -U: -I: -z:",
        tune2fs,
    ),
    judged(
        &["debugfs"],
        Risky,
        "@posix -w -c -i -n -D -V!h -R: -f: -b: -s: -d: -z:",
        debugfs,
    ),
    judged(
        &["wipefs"],
        Risky,
        "-a,--all -b,--backup -f,--force -i,--noheadings -J,--json -n,--no-act -o:,--offset= -O:,--output= -p,--parsable -q,--quiet -t:,--types= --lock=? -h,--help!h -V,--version!h",
        wipefs,
    ),
    decl(
        &["smartctl"],
        Reader,
        "-h,--help,--usage!h -V,--version,--copyright,--license!h -i,--info -g:,--get= -a,--all -x,--xall --scan --scan-open -q:,--quietmode= -d:,--device= -T:,--tolerance= -b:,--badsum= -r:,--report= -n:,--nocheck= -H,--health -c,--capabilities -A,--attributes -l:,--log= -v:,--vendorattribute= -F:,--firmwarebug= -P:,--presets= -B:,--drivedb= -j,--json=? -f:,--format= -s:,--smart=!s -o:,--offlineauto=!s -S:,--saveauto=!s -t:,--test=!s -C,--captive -X,--abort!s --identify=?",
    ),
    decl(
        &["hdparm"],
        Risky,
        "-I -i -t -T -g -C -h!h -V!h -v -z!s -y!s -Y!s -f!s -F!s -W::!s -a::!s -A::!s -B::!s -c::!s -d::!s -D::!s -H::!s -J::!s -k::!s -K::!s -L::!s -m::!s -M::!s -N::!s -p::!s -P::!s -Q::!s -r::!s -R::!s -s::!s -S::!s -u::!s -U::!s -w::!s -x::!s -X::!s -Z!s -b::!s -E::!s -q --security-erase=!d --security-erase-enhanced=!d --trim-sector-ranges=!d --write-sector=!d --repair-sector=!d --make-bad-sector=!d --fwdownload=!d --dco-restore!d --dco-freeze!s --security-set-pass=!s --security-disable=!s --security-unlock=!s --security-freeze!s --user-master= --security-mode= --read-sector= --Istdout --offset= --direct --dco-identify -n::!s",
    ),
    judged(
        &["mdadm"],
        Risky,
        "-D,--detail -E,--examine -Q,--query --detail-platform -s,--scan -v,--verbose -b,--brief -Y,--export --stop!m -S --zero-superblock --assemble -A --create -C --build -B --grow -G --manage --misc --monitor -F --incremental -I --auto-detect --add -a --remove -r --fail -f --run -R --readonly -o --readwrite -w --wait -W --test -t --examine-bitmap -X -h,--help!h -V,--version!h",
        mdadm,
    ),
    decl(
        &[
            "lvs",
            "pvs",
            "vgs",
            "lvdisplay",
            "pvdisplay",
            "vgdisplay",
            "lvscan",
            "pvscan",
            "vgscan",
        ],
        Reader,
        "-a,--all -o:,--options= -O:,--sort= -S:,--select= --noheadings --nosuffix --separator= --units= --unbuffered --aligned --binary --reportformat= --readonly --nolocking -v,--verbose -d,--debug -q,--quiet -t,--test -c,--colon -C,--columns -m,--maps -P,--partial --segments -s,--short --foreign --ignorelockingfailure --shared --configreport= --logonly --headings= -h,--help!h --version!h --config= --devices= --devicesfile= --journal= --nohints --lockopt= --commandprofile= --profile= --rows --nameprefixes",
    ),
    judged(
        &["cryptsetup"],
        Risky,
        "-v,--verbose --debug --debug-json -h,--help!h -V,--version!h --usage -d:,--key-file= --keyfile-offset= --keyfile-size= -l: --key-slot= -S: -q,--batch-mode --readonly --dump-volume-key --dump-master-key --type= --header= --disable-locks --timeout= -T: --tries= --json",
        cryptsetup,
    ),
    judged(
        &["losetup"],
        Risky,
        "-a,--all -d,--detach -D,--detach-all -f,--find -c,--set-capacity -j:,--associated= -L,--nooverlap -o:,--offset= --sizelimit= -b:,--sector-size= -P,--partscan -r,--read-only --direct-io=? --show -v,--verbose -J,--json -l,--list -n,--noheadings -O:,--output= --output-all --raw --loop-ref= --remove -h,--help!h -V,--version!h",
        losetup,
    ),
];
