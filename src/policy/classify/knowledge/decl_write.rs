//! Declared file writers (`cp`, `mv`, `install`, `ln`, `touch`, `mkdir`, `rm`, `truncate`,
//! `dd`, `tar`): every place they write goes to the path judge, which resolves it against the
//! working directory the text established.

use super::programs::{Call, Class::*, Decl, judged};
use crate::policy::Tier::{Irreversible as T3, Reversible as T1, Stateful as T2};
use crate::policy::classify::paths::Dest;
use crate::policy::options::Value;

/// `cp`/`mv`/`install`/`ln`: the destination is `-t DIR` or the last operand; `mv` also
/// removes its sources.
fn copy_like(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let replaces = matches!(c.name, "mv" | "ln" | "install");
    if c.name == "ln" && c.has("-s") {
        c.raise(T2, "ln -s creates symbolic links");
    }
    c.raise(T1, format!("{name} writes files"));
    let ops = c.operands();
    let targets = c.values("-t");
    if c.name == "install" && c.has("-d") {
        for at in ops {
            c.write_operand(at, false);
        }
        return;
    }
    if targets.is_empty() {
        if let Some((&dest, sources)) = ops.split_last() {
            if !sources.is_empty() || c.name == "ln" {
                c.write_operand(dest, replaces);
            }
            if c.name == "mv" {
                // A literal source is removed: judged as a write where it was.
                for &src in sources {
                    if c.args().get(src).is_some_and(|w| w.literal) {
                        c.write_operand(src, false);
                    }
                }
            }
        }
    } else if c.name == "mv" {
        for src in ops {
            if c.args().get(src).is_some_and(|w| w.literal) {
                c.write_operand(src, false);
            }
        }
    }
    // A non-literal source is not a destination (`mv *.log old/`); the target was judged.
}

/// `touch`, `mkdir`, `mkfifo`, `mknod`, `rmdir`: every operand is written.
fn operands_written(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let what = if c.name == "rmdir" {
        "removes empty directories"
    } else {
        "creates files"
    };
    c.raise(T1, format!("{name} {what}"));
    let ops = c.operands();
    let ops = if c.name == "mknod" {
        ops.into_iter().take(1).collect()
    } else {
        ops
    };
    for at in ops {
        c.write_operand(at, false);
    }
}

fn rm(c: &mut Call<'_>) {
    let name = c.name.to_string();
    if c.has("-r") || c.has("-f") || c.has("--no-preserve-root") {
        c.raise(T3, "rm -r/-f removes files irrecoverably");
    } else {
        c.raise(T2, format!("{name} removes files"));
    }
}

fn truncate(c: &mut Call<'_>) {
    c.raise(T3, "truncate cuts files (data past the size is lost)");
}

/// `dd`: operands are `key=value`; `of=` is written.
fn dd(c: &mut Call<'_>) {
    for at in c.operands() {
        let text = c.args().get(at).map_or("", |w| w.text.as_str());
        if text.starts_with("of=") {
            c.write_to(Value { at, start: 3 }, false);
        }
    }
}

/// `tar`: modes that create or extract write; listing and comparing read.
fn tar(c: &mut Call<'_>) {
    let creates = ["-c", "-r", "-u", "-A", "--delete"]
        .iter()
        .any(|o| c.has(o));
    let extracts = c.has("-x");
    let to_stdout = c.has("-O") || c.has("--to-command");
    let archives = c.values("-f");
    if creates {
        for v in archives {
            c.write_to(v, false);
        }
    }
    if extracts && !to_stdout {
        c.raise(T1, "tar extracts files");
        if c.has("-P") {
            c.raise(T2, "tar -P extracts to absolute paths");
        }
        let base = c.base.clone();
        c.j.writes.push(Dest {
            path: ".".into(),
            literal: true,
            base,
            replaces: false,
        });
    }
    if !creates && !extracts && !c.has("-t") && !c.has("-d") && !c.has("--test-label") {
        c.raise(T1, "tar without a mode this table knows");
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["cp", "mv", "install", "ln"],
        Risky,
        "-a,--archive --attributes-only --backup=? -b --copy-contents -d -f,--force -i,--interactive -H -l,--link -L,--dereference,--logical -n,--no-clobber -P,--no-dereference,--physical -p --preserve=? --no-preserve= --parents -R,-r,--recursive --reflink=? --remove-destination --sparse= --strip-trailing-slashes -s,--symbolic,--symbolic-link,--strip -S:,--suffix= -t:,--target-directory=!t -T,--no-target-directory -u,--update=? -v,--verbose --keep-directory-symlink -x,--one-file-system -Z --context=? --debug --exchange --no-copy -c -C,--compare -D -g:,--group= -m:,--mode= -o:,--owner= --preserve-context --strip-program=!x -F,--directory --relative -e -h --help!h --version!h",
        copy_like,
    ),
    judged(
        &["touch", "mkdir", "mkfifo", "mknod", "rmdir"],
        Risky,
        "-a -c,--no-create -d:,--date= -f -h,--no-dereference -m:,--mode= -r:,--reference= -t: --time= -p,--parents -v,--verbose -Z --context=? --ignore-fail-on-non-empty --help!h --version!h",
        operands_written,
    ),
    judged(
        &["rm", "unlink"],
        Risky,
        "-f,--force -i -I --interactive=? --one-file-system --no-preserve-root --preserve-root=? -r,-R,--recursive -d,--dir -v,--verbose --help!h --version!h",
        rm,
    ),
    judged(
        &["truncate"],
        Risky,
        "-c,--no-create -o,--io-blocks -r:,--reference= -s:,--size= --help!h --version!h",
        truncate,
    ),
    judged(&["dd"], Risky, "--help!h --version!h", dd),
    judged(
        &["tar", "gtar"],
        Risky,
        "@old-style -A,--catenate,--concatenate -c,--create --delete -d,--diff,--compare -r,--append --test-label -t,--list -u,--update -x,--extract,--get --check-device -g:,--listed-incremental=!w -G,--incremental --hole-detection= --ignore-failed-read --level= --no-check-device --no-seek -n,--seek --occurrence=? --sparse-version= -S,--sparse --add-file= -C:,--directory=!C --exclude= --exclude-backups --exclude-caches --exclude-caches-all --exclude-caches-under --exclude-ignore= --exclude-ignore-recursive= --exclude-tag= --exclude-tag-all= --exclude-tag-under= --exclude-vcs --exclude-vcs-ignores --no-null --no-recursion --no-unquote --no-verbatim-files-from --null --verbatim-files-from --recursion -T:,--files-from= --unquote -X:,--exclude-from= --anchored --ignore-case --no-anchored --no-ignore-case --no-wildcards --no-wildcards-match-slash --wildcards --wildcards-match-slash --keep-directory-symlink --keep-newer-files -k,--keep-old-files --no-overwrite-dir --one-top-level=? --overwrite --overwrite-dir --recursive-unlink --remove-files!d --skip-old-files -U,--unlink-first -W,--verify --ignore-command-error --no-ignore-command-error -O,--to-stdout --to-command=!c --atime-preserve=? --clamp-mtime --delay-directory-restore --group= --group-map= --mode= --mtime= -m,--touch --no-delay-directory-restore --no-same-owner --no-same-permissions --numeric-owner --owner= --owner-map= -p,--preserve-permissions,--same-permissions --same-owner --sort= -s,--preserve-order,--same-order --acls --no-acls --selinux --no-selinux --xattrs --no-xattrs --xattrs-exclude= --xattrs-include= -f:,--file= -F:,--info-script=,--new-volume-script=!x -L:,--tape-length= -M,--multi-volume --rmt-command=!x --rsh-command=!x --volno-file=!w -b:,--blocking-factor= -B,--read-full-records -i,--ignore-zeros --record-size= -H:,--format= --old-archive,--portability --pax-option= --posix -V:,--label= -a,--auto-compress -I:,--use-compress-program=!c -j,--bzip2 -J,--xz --lzip --lzma --lzop --no-auto-compress -z,--gzip,--gunzip,--ungzip -Z,--compress,--uncompress --zstd --backup=? -h,--dereference --hard-dereference -l,--check-links --newer-mtime= -N:,--newer=,--after-date= --one-file-system -P,--absolute-names -K:,--starting-file= --strip-components= --suffix= --transform=,--xform= --checkpoint=? --checkpoint-action=!x --full-time --index-file=!w -R,--block-number --show-defaults --show-omitted-dirs --show-snapshot-field-ranges --show-transformed-names,--show-stored-names --totals=? --utc -v,--verbose --warning= -w,--interactive,--confirmation -o --force-local --restrict -?,--help!h --usage!h --version!h",
        tar,
    ),
];
