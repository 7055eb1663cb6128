//! `git`: global options (`-c`, `--exec-path`, `--config-env` can make git run a program),
//! then each read subcommand parsed with its own grammar (git's parse-options: abbreviated
//! long options, `--no-` negations, attached short values), and the changing subcommands by
//! what they do. An alias or unknown subcommand can run anything (`alias.x = !cmd`): tier 2.

use super::programs::{Call, Class::*, Decl, decl, judged};
use crate::policy::Tier::{Irreversible as T3, Reversible as T1, Stateful as T2};

/// Diff options shared by `diff`, `log`, `show` and friends.
macro_rules! diff_opts {
    () => {
        " -p,-u,--patch -s,--no-patch -U::,--unified=? --output=!w --output-indicator-new= --output-indicator-old= --output-indicator-context= --raw --patch-with-raw -t --indent-heuristic --minimal --patience --histogram --anchored= --diff-algorithm= --stat=? --stat-width= --stat-name-width= --stat-graph-width= --stat-count= --compact-summary --numstat --shortstat -X::,--dirstat=? --cumulative --dirstat-by-file=? --summary --patch-with-stat -z --name-only --name-status --submodule=? --color=? --color-moved=? --color-moved-ws= --word-diff=? --word-diff-regex= --color-words=? --renames --rename-empty --check --ws-error-highlight= --full-index --binary --abbrev=? -B::,--break-rewrites=? -M::,--find-renames=? -C::,--find-copies=? --find-copies-harder -D,--irreversible-delete -l: --diff-filter= -S: -G: --find-object= --pickaxe-all --pickaxe-regex -O: --skip-to= --rotate-to= -R --relative=? -a,--text --ignore-cr-at-eol --ignore-space-at-eol -b,--ignore-space-change -w,--ignore-all-space --ignore-blank-lines -I:,--ignore-matching-lines= --inter-hunk-context= -W,--function-context --exit-code --quiet --ext-diff!x --textconv --ignore-submodules=? --src-prefix= --dst-prefix= --prefix --default-prefix --line-prefix= --ita-invisible-in-index -c --cc --dd --combined-all-paths -m --diff-merges= --merges --remerge-diff -1 -2 -3 --base --ours --theirs -0"
    };
}

/// Revision and formatting options of `log`, `show`, `whatchanged`, `rev-list`, `shortlog`.
macro_rules! log_opts {
    () => {
        " --follow --decorate=? --decorate-refs= --decorate-refs-exclude= --clear-decorations --source --mailmap --use-mailmap --full-diff --log-size -L: -n:,--max-count= -# --skip= --since= --after= --since-as-filter= --until= --before= --author= --committer= --grep-reflog= --grep= --all-match --invert-grep -i,--regexp-ignore-case --basic-regexp -E,--extended-regexp -F,--fixed-strings -P,--perl-regexp --remove-empty --min-parents= --max-parents= --first-parent --exclude-first-parent-only --not --all --branches=? --tags=? --remotes=? --glob= --exclude= --exclude-hidden= --reflog --alternate-refs --single-worktree --ignore-missing --bisect --stdin --cherry-mark --cherry-pick --left-only --right-only --cherry -g,--walk-reflogs --merge --boundary --simplify-by-decoration --show-pulls --full-history --dense --sparse --simplify-merges --ancestry-path=? --date-order --author-date-order --topo-order --reverse --walk=? --do-walk --pretty=? --format= --abbrev-commit --oneline --encoding= --expand-tabs=? --notes=? --show-notes=? --standard-notes --show-signature --relative-date --date= --parents --children --left-right --graph --show-linear-break=? --count --objects --objects-edge --unpacked --filter= --missing= --header --timestamp --no-merges --in-commit-order --show-notes-by-default -q --indexed-objects"
    };
}

/// What a read subcommand's words must not contain to stay read-only (modes of the same
/// subcommand that write).
fn list_form(c: &mut Call<'_>, sub: &str, writes: &[&str]) {
    if writes.iter().any(|o| c.has(o)) {
        c.raise(T1, format!("git {sub} changes repository metadata"));
    }
}

fn branch(c: &mut Call<'_>) {
    let listing = c.has("-l")
        || c.has("-a")
        || c.has("-r")
        || c.has("--contains")
        || c.has("--merged")
        || c.has("--no-merged")
        || c.has("--points-at")
        || c.has("--show-current");
    if c.has("-D") || c.has("-d") && c.has("-f") {
        c.raise(T3, "git branch -D deletes a branch irrecoverably");
    }
    list_form(
        c,
        "branch",
        &[
            "-d",
            "-m",
            "-M",
            "-c",
            "-C",
            "-f",
            "-u",
            "--unset-upstream",
            "--edit-description",
            "-t",
            "--create-reflog",
        ],
    );
    if !c.operands().is_empty() && !listing {
        c.raise(T1, "git branch creates a branch");
    }
}

fn tag(c: &mut Call<'_>) {
    let listing = c.has("-l")
        || c.has("-n")
        || c.has("--contains")
        || c.has("--merged")
        || c.has("--points-at")
        || c.has("-v");
    list_form(c, "tag", &["-a", "-s", "-u", "-f", "-d", "-m", "-F", "-e"]);
    if !c.operands().is_empty() && !listing {
        c.raise(T1, "git tag creates a tag");
    }
}

fn remote(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        None | Some("show" | "get-url") => {}
        Some(s) => {
            let s = s.to_string();
            c.raise(T1, format!("git remote {s} changes remotes"));
        }
    }
}

fn stash(c: &mut Call<'_>) {
    match c.operand_texts().first().copied() {
        Some("list" | "show") => {}
        Some("drop" | "clear") => c.raise(T3, "git stash drop/clear deletes stashes irrecoverably"),
        Some("pop" | "apply" | "branch") => {
            c.raise(T2, "git stash pop/apply changes the work tree")
        }
        _ => c.raise(T1, "git stash saves and resets changes"),
    }
}

/// Config keys whose value is a program or shell code run later.
fn runs_code(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("alias.")
        || k.starts_with("filter.")
        || k.starts_with("include")
        || k.starts_with("credential")
        || k.starts_with("protocol.")
        || k.starts_with("remote.")
            && (k.ends_with(".uploadpack") || k.ends_with(".receivepack") || k.ends_with(".proxy"))
        || k.ends_with(".textconv")
        || k.ends_with(".command")
        || k.ends_with(".cmd")
        || k.ends_with(".driver")
        || k.ends_with("pager")
        || k.ends_with("editor")
        || k.ends_with("program")
        || matches!(
            k.as_str(),
            "core.sshcommand"
                | "core.fsmonitor"
                | "core.hookspath"
                | "core.askpass"
                | "core.gitproxy"
                | "core.worktree"
                | "diff.external"
                | "gpg.program"
                | "sendemail.smtpserver"
                | "web.browser"
                | "safe.directory"
        )
}

fn config(c: &mut Call<'_>) {
    let ops = c.operand_texts();
    let sub_reads = matches!(ops.first().copied(), Some("get" | "list"));
    let sub_writes = matches!(
        ops.first().copied(),
        Some("set" | "unset" | "rename-section" | "remove-section" | "edit")
    );
    let reads = c.has("--get")
        || c.has("--get-all")
        || c.has("--get-regexp")
        || c.has("--get-urlmatch")
        || c.has("-l")
        || c.has("--get-color")
        || c.has("--get-colorbool");
    let flag_writes = [
        "--add",
        "--replace-all",
        "--unset",
        "--unset-all",
        "--rename-section",
        "--remove-section",
        "-e",
    ]
    .iter()
    .any(|o| c.has(o));
    let key_value = !reads && !sub_reads && (ops.len() >= 2 || sub_writes);
    if !(flag_writes || key_value || sub_writes) {
        return;
    }
    let key = if sub_writes { ops.get(1) } else { ops.first() }
        .copied()
        .unwrap_or("");
    let scope_global = c.has("--global") || c.has("--system") || c.has("--file");
    if runs_code(key) {
        c.raise(
            T2,
            format!("git config {key} sets a program or code that later git commands run"),
        );
    } else if scope_global {
        c.raise(
            T2,
            "git config --global/--system writes a configuration file outside the repository",
        );
    } else {
        c.raise(T1, "git config writes the repository's configuration");
    }
}

fn worktree_like(c: &mut Call<'_>) {
    let sub = c.name.rsplit(' ').next().unwrap_or("").to_string();
    match c.operand_texts().first().copied() {
        None | Some("list" | "show" | "status" | "summary" | "verify" | "list-heads") => {}
        Some("foreach") => {
            // `git submodule foreach CMD`: shell code in each submodule.
            if let Some(&at) = c.operands().get(1) {
                let text = c.operand_texts()[1..].join(" ");
                let index = c.index(at);
                c.j.inner.push(super::Inner::ShellText { index, text });
            }
        }
        Some(s) => {
            let s = s.to_string();
            let tier = if sub == "submodule" { T2 } else { T1 };
            c.raise(tier, format!("git {sub} {s} changes the repository"));
        }
    }
}

fn reflog(c: &mut Call<'_>) {
    if matches!(
        c.operand_texts().first().copied(),
        Some("expire" | "delete" | "drop")
    ) {
        c.raise(T3, "git reflog expire/delete drops history");
    }
}

fn format_patch(c: &mut Call<'_>) {
    if !c.has("--stdout") || !c.values("-o").is_empty() {
        c.raise(T1, "git format-patch writes patch files");
    }
}

fn fsck(c: &mut Call<'_>) {
    if c.has("--lost-found") {
        c.raise(T1, "git fsck --lost-found writes objects");
    }
}

/// `git SUB …` for subcommands that change things: the old tiers, by what they do.
fn changing(c: &mut Call<'_>, sub: &str, from: usize) {
    let rest: Vec<String> = c
        .args()
        .get(from..)
        .unwrap_or(&[])
        .iter()
        .map(|w| w.text.clone())
        .collect();
    let has = |f: &str| {
        rest.iter()
            .any(|w| w == f || w.starts_with(&format!("{f}=")))
    };
    let short = |ch: char| {
        rest.iter()
            .any(|w| w.starts_with('-') && !w.starts_with("--") && w[1..].contains(ch))
    };
    match sub {
        "push" => {
            let force = short('f')
                || has("--force")
                || rest.iter().any(|w| w.starts_with("--force"))
                || has("--mirror")
                || short('d')
                || has("--delete")
                || rest
                    .iter()
                    .any(|w| w.starts_with('+') || w.starts_with(':') && w.len() > 1)
                || has("--prune");
            if force {
                c.raise(
                    T3,
                    "git push --force/+ref/--delete rewrites or deletes remote history",
                );
            } else {
                c.raise(T2, "git push publishes commits");
            }
            if rest
                .iter()
                .any(|w| w.starts_with("--receive-pack") || w.starts_with("--exec"))
            {
                c.raise(T2, "git push --receive-pack runs a program");
            }
        }
        "reset" if has("--hard") || has("--merge") || has("--keep") => {
            c.raise(T3, "git reset --hard discards work")
        }
        "clean" if short('f') || has("--force") => {
            c.raise(T3, "git clean -f deletes untracked files")
        }
        "checkout" | "restore" | "switch"
            if short('f')
                || has("--force")
                || has("--discard-changes")
                || rest.iter().any(|w| w == "--" || w == ".") =>
        {
            c.raise(T2, format!("git {sub} discards local changes"))
        }
        "filter-branch" | "filter-repo" | "prune" | "replace" => {
            c.raise(T3, format!("git {sub} rewrites or drops history"))
        }
        "gc" if rest.iter().any(|w| w.starts_with("--prune")) => {
            c.raise(T3, "git gc --prune drops unreachable objects")
        }
        "commit" | "merge" | "rebase" | "pull" | "cherry-pick" | "revert" | "am" | "apply"
        | "mv" | "rm" | "clone" | "init" | "submodule" | "sparse-checkout" | "maintenance"
        | "lfs" | "bisect" | "update-ref" | "update-index" | "symbolic-ref" | "read-tree"
        | "write-tree" | "commit-tree" | "hash-object" | "mktag" | "mktree" | "pack-refs"
        | "repack" | "prune-packed" | "notes" | "worktree" | "gc" | "fetch" | "add"
        | "checkout" | "restore" | "switch" | "reset" | "clean" | "stage" | "unpack-objects"
        | "index-pack" | "send-email" | "request-pull" | "imap-send" | "daemon" | "instaweb"
        | "svn" | "p4" | "cvsimport" | "quiltimport" | "citool" | "gui" | "gitk" | "difftool"
        | "mergetool" | "rerere" | "credential" | "bundle" | "archive" | "fast-import"
        | "fast-export" | "replay" | "backfill" => {
            let tier = match sub {
                "add" | "stage" | "fetch" | "checkout" | "switch" | "restore" | "reset"
                | "notes" | "worktree" | "gc" | "init" | "clone" | "mv" | "bundle"
                | "pack-refs" | "repack" | "prune-packed" | "rerere" => T1,
                _ => T2,
            };
            c.raise(tier, format!("git {sub} changes history or the work tree"));
            if rest.iter().any(|w| {
                w.starts_with("--upload-pack")
                    || w.starts_with("--receive-pack")
                    || w.starts_with("--exec")
                    || w.starts_with("--template")
            }) {
                c.raise(T2, format!("git {sub} option runs a program"));
            }
        }
        _ => {
            c.raise(
                T2,
                format!("git {sub}: an alias or a command this table does not know"),
            );
            for at in from..c.args().len() {
                c.opaque(at);
            }
        }
    }
}

/// Read subcommands with their own grammars (declared as `git SUB`).
const READS: &[&str] = &[
    "status",
    "log",
    "show",
    "diff",
    "whatchanged",
    "blame",
    "annotate",
    "grep",
    "ls-files",
    "ls-tree",
    "rev-parse",
    "describe",
    "shortlog",
    "rev-list",
    "cat-file",
    "reflog",
    "branch",
    "tag",
    "remote",
    "stash",
    "config",
    "worktree",
    "notes",
    "submodule",
    "for-each-ref",
    "show-ref",
    "ls-remote",
    "merge-base",
    "name-rev",
    "count-objects",
    "check-ignore",
    "check-attr",
    "cherry",
    "range-diff",
    "verify-commit",
    "verify-tag",
    "fsck",
    "archive",
    "format-patch",
    "help",
    "version",
    "var",
    "diff-tree",
    "diff-files",
    "diff-index",
    "show-branch",
    "check-ref-format",
    "column",
    "get-tar-commit-id",
    "verify-pack",
    "bundle",
];

fn git(c: &mut Call<'_>) {
    let Some(&at) = c.operands().first() else {
        c.describe("git with no subcommand prints help");
        return;
    };
    let sub = c.args().get(at).map_or("", |w| w.text.as_str()).to_string();
    let grammar: Option<&'static str> = match sub.as_str() {
        "annotate" | "blame" => Some("git blame"),
        "log" | "whatchanged" | "show" | "reflog" | "rev-list" | "shortlog" => Some("git log"),
        "diff" | "diff-tree" | "diff-files" | "diff-index" => Some("git diff"),
        s if READS.contains(&s) => super::programs::lookup(&format!("git {s}")).and_then(|e| {
            e.decl
                .names
                .iter()
                .copied()
                .find(|n| *n == format!("git {s}"))
        }),
        _ => None,
    };
    match grammar {
        Some(name) if c.continue_as(name, at + 1) => {
            if sub == "reflog" {
                reflog(c);
            }
            if sub == "help" && c.operands().len() > 1 {
                c.raise(T1, "git help renders a manual page (man writes its cache)");
            }
            if c.j.tier == crate::policy::Tier::ReadOnly {
                c.describe(format!("git {sub} reads only"));
            }
        }
        _ => changing(c, &sub, at + 1),
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["git"],
        Risky,
        "@posix -C:!C -c:!x --config-env=!x --exec-path=?!x --html-path --man-path --info-path -p,--paginate -P,--no-pager --git-dir= --work-tree= --namespace= --bare --no-replace-objects --no-lazy-fetch --no-optional-locks --no-advice --literal-pathspecs --glob-pathspecs --noglob-pathspecs --icase-pathspecs --list-cmds= --attr-source= -h,--help!h --version!h -v!h",
        git,
    ),
    decl(
        &["git log"],
        Risky,
        concat!("@negatable", log_opts!(), diff_opts!(), " -h!h"),
    ),
    decl(
        &["git diff"],
        Risky,
        concat!(
            "@negatable",
            diff_opts!(),
            " --cached --staged --merge-base --no-index -h!h -r --root --stdin --always -v --pretty=? --format= --abbrev=?"
        ),
    ),
    decl(
        &["git status"],
        Risky,
        "@negatable -s,--short -b,--branch --show-stash --porcelain=? --long -v,--verbose -u::,--untracked-files=? --ignore-submodules=? --ignored=? -z --column=? --ahead-behind --renames --find-renames=? --optional-locks -h!h",
    ),
    decl(
        &["git grep"],
        Risky,
        "@negatable -O::,--open-files-in-pager=?!x --cached --untracked --index --exclude-standard --recurse-submodules -a,--text --textconv -i,--ignore-case -I --max-depth= -r,--recursive -w,--word-regexp -v,--invert-match -h -H --full-name -E,--extended-regexp -G,--basic-regexp -F,--fixed-strings -P,--perl-regexp -n,--line-number --column -l,--files-with-matches,--name-only -L,--files-without-match -z,--null -o,--only-matching -c,--count --color=? --break --heading -p,--show-function -C::,--context=? -A:,--after-context= -B:,--before-context= -W,--function-context -m:,--max-count= --threads= -f: -e: --and --or --not --all-match -q,--quiet -# --no-index",
    ),
    decl(
        &["git blame"],
        Risky,
        "@negatable -b --root --show-stats -L: -l -t -S: --reverse= --first-parent -p,--porcelain --line-porcelain --incremental --encoding= --contents= --date= --progress -M::? -C::? --ignore-rev= --ignore-revs-file= --color-lines --color-by-age -h!h -c --score-debug -f,--show-name -n,--show-number -s -e,--show-email -w --abbrev=? --minimal",
    ),
    decl(
        &["git ls-files"],
        Risky,
        "@negatable -c,--cached -d,--deleted -m,--modified -o,--others -i,--ignored -s,--stage -u,--unmerged -k,--killed --directory --empty-directory --eol -z -x:,--exclude= -X:,--exclude-from= --exclude-per-directory= --exclude-standard --error-unmatch --with-tree= -t -v -f --full-name --recurse-submodules --abbrev=? --debug --deduplicate --sparse --format= -h!h",
    ),
    decl(
        &["git ls-tree"],
        Risky,
        "@negatable -d -r -t -l,--long -z --name-only,--name-status --object-only --full-name --full-tree --abbrev=? --format= -h!h",
    ),
    decl(
        &["git rev-parse"],
        Risky,
        "@negatable --parseopt --sq-quote --keep-dashdash --stop-at-non-option --stuck-long --revs-only --revs --flags --default= --prefix= --verify -q,--quiet --sq --short=? --not --abbrev-ref=? --symbolic --symbolic-full-name --all --branches=? --tags=? --remotes=? --glob= --exclude= --exclude-hidden= --disambiguate= --local-env-vars --path-format= --git-dir --git-common-dir --resolve-git-dir= --git-path= --show-toplevel --show-superproject-working-tree --shared-index-path --absolute-git-dir --is-inside-git-dir --is-inside-work-tree --is-bare-repository --is-shallow-repository --show-cdup --show-prefix --show-object-format=? --show-ref-format --since= --after= --until= --before= -h!h",
    ),
    decl(
        &["git describe"],
        Risky,
        "@negatable --dirty=? --broken=? --all --tags --contains --abbrev= --candidates= --exact-match --debug --long --match= --exclude= --always --first-parent -h!h",
    ),
    decl(
        &["git cat-file"],
        Risky,
        "@negatable -t -s -e -p --textconv --filters --path= --batch=? --batch-check=? --batch-command=? --batch-all-objects --buffer --unordered --follow-symlinks -Z --allow-unknown-type --mailmap --use-mailmap -h!h",
    ),
    judged(
        &["git branch"],
        Risky,
        "@negatable -l,--list -a,--all -r,--remotes -v,--verbose -vv --show-current --contains=? --merged=? --points-at= --sort= --format= --column=? --color=? -i,--ignore-case --omit-empty --abbrev=? -q,--quiet -d,--delete -D -m,--move -M -c,--copy -C -f,--force -u:,--set-upstream-to= --unset-upstream --edit-description -t::,--track=? --create-reflog --recurse-submodules -h!h",
        branch,
    ),
    judged(
        &["git tag"],
        Risky,
        "@negatable -l,--list -n:: --contains=? --merged=? --points-at= --sort= --format= --column=? --color=? -i,--ignore-case --omit-empty -v,--verify -a,--annotate -s,--sign -u:,--local-user= -f,--force -d,--delete -m:,--message= -F:,--file= -e,--edit --cleanup= --create-reflog --trailer= -h!h",
        tag,
    ),
    judged(&["git remote"], Risky, "@posix -v,--verbose -h!h", remote),
    judged(&["git stash"], Risky, "@posix -h!h", stash),
    judged(
        &["git config"],
        Risky,
        "@negatable --global --system --local --worktree -f:,--file= --blob= --get --get-all --get-regexp --get-urlmatch --replace-all --add --unset --unset-all --rename-section --remove-section -l,--list --fixed-value --type= --bool --int --bool-or-int --path --expiry-date -z,--null --name-only --includes --show-origin --show-scope --get-colorbool --get-color -e,--edit --default= --all --regexp --value= --url= --comment= -h!h",
        config,
    ),
    judged(
        &["git worktree", "git notes", "git submodule", "git bundle"],
        Risky,
        "@posix -q,--quiet -v,--verbose --porcelain -z --expire= --ref= --cached --recursive -h!h",
        worktree_like,
    ),
    decl(
        &[
            "git for-each-ref",
            "git show-ref",
            "git ls-remote",
            "git merge-base",
            "git name-rev",
            "git count-objects",
            "git check-ignore",
            "git check-attr",
            "git cherry",
            "git range-diff",
            "git verify-commit",
            "git verify-tag",
            "git help",
            "git version",
            "git var",
            "git show-branch",
            "git check-ref-format",
            "git column",
            "git get-tar-commit-id",
            "git verify-pack",
        ],
        Risky,
        "@negatable --count= --sort= --format= --color=? --shell --perl --python --tcl --points-at= --merged=? --contains=? --omit-empty --ignore-case --start-after= --stdin --exclude-existing=? --head --verify --exists -d,--dereference -s,--hash=? --abbrev=? --heads --tags --branches -q,--quiet -h,--refs --get-url --symref --upload-pack=!x --exit-code --server-option= -o: --octopus --independent --is-ancestor --fork-point -a,--all --name-only --no-undefined --always --annotate-stdin --exclude= -H -v,--verbose --non-matching --no-index --cached --creation-factor= --left-only --right-only --raw -l --all -i,--info -m,--man -w,--web -g,--guides --build-options --topo-order --date-order --current --sha1-name --more=? --list --independent --merge-base --floor --dense --reflog=? --sparse --allow-onelevel --refspec-pattern --normalize --mode= --indent= --nl= --padding= --stat -v -c -r",
    ),
    judged(
        &["git fsck"],
        Risky,
        "@negatable --unreachable --dangling --root --tags --cache --full --connectivity-only --strict --verbose --lost-found --name-objects --progress --references -h!h",
        fsck,
    ),
    decl(
        &["git archive"],
        Risky,
        "@negatable --format= -l,--list -v,--verbose --prefix= --add-file= --add-virtual-file= -o:,--output=!w --worktree-attributes --mtime= --remote=!n --exec=!x -# -h!h",
    ),
    judged(
        &["git format-patch"],
        Risky,
        concat!(
            "@negatable",
            diff_opts!(),
            log_opts!(),
            " -o:,--output-directory=!t --stdout --attach=? --inline=? --thread=? --in-reply-to= --suffix= --numbered-files -k,--keep-subject -N,--no-numbered -n,--numbered --start-number= --subject-prefix= --rfc=? --filename-max-length= -v:,--reroll-count= --to= --cc= --from=? --force-in-body-from --add-header= --cover-letter --cover-from-description= --description-file= --signature= --signature-file= --quiet --zero-commit --base= --progress --interdiff= --range-diff= --creation-factor= --signoff -s --encode-email-headers -h!h"
        ),
        format_patch,
    ),
];
