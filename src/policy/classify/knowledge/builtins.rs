//! Shell builtins whose words are data, `history`, pagers and editors (tier 1: they can spawn a
//! shell; options that run commands are tier 2), `find`'s expression, and the search tools
//! that can run programs (`rg --pre`, `fd -x`).

use super::programs::{Call, Class::*, Decl, decl, judged};
use super::{Inner, Judgement, StdinCode};
use crate::policy::Tier::{
    self, Irreversible as T3, ReadOnly as T0, Reversible as T1, Stateful as T2,
};
use crate::policy::classify::paths::Dest;
use crate::policy::classify::words::Word;

/// Builtins and trivial commands whose every word is data, at tier 0. (`printf -v`, `read`,
/// `declare` and friends set variables: the shell visitor judges that.)
const DATA: &[&str] = &[
    "echo",
    "printf",
    "true",
    "false",
    "test",
    "[",
    ":",
    "sleep",
    "yes",
    "help",
    "times",
    "dirs",
    "jobs",
    "wait",
    "umask",
    "shift",
    "return",
    "exit",
    "break",
    "continue",
    "caller",
    "compopt",
    "disown",
    "logout",
    "fg",
    "bg",
    "type",
    "let",
    "ulimit",
    "set",
    "shopt",
    "unset",
    "cd",
    "pushd",
    "popd",
    "read",
    "mapfile",
    "readarray",
    "getopts",
    "declare",
    "typeset",
    "local",
    "readonly",
    "export",
    "pwd",
    "suspend",
    "zdump",
];

/// Judge a builtin, or `None` when `name` is not one handled here.
pub(super) fn judge(name: &str, args: &[Word]) -> Option<Judgement> {
    if DATA.contains(&name) {
        return Some(Judgement::data(T0, format!("{name} reads only")));
    }
    Some(match name {
        "history" => history(args),
        // `compgen -C CMD` runs CMD to produce completions; `-F FUNC` calls a function.
        "compgen" | "complete" if args.iter().any(|w| w.text == "-C" || w.text == "-F") => {
            let mut j = Judgement::data(T0, format!("{name} -C/-F runs a command or function"));
            if let Some(i) = args.iter().position(|w| w.text == "-C")
                && let Some(code) = args.get(i + 1)
            {
                j.inner.push(Inner::ShellText {
                    index: i + 1,
                    text: code.text.clone(),
                });
            }
            if args.iter().any(|w| w.text == "-F") {
                j.tier = T2;
                j.opaque_args = (0..args.len()).collect();
            }
            j
        }
        "bind"
            if args.iter().any(|w| {
                w.text.starts_with("-x") || w.text.contains('x') && w.text.starts_with('-')
            }) =>
        {
            opaque(T2, "bind -x installs shell code on a key", args)
        }
        "bind" => Judgement::data(T0, "bind lists or sets key bindings"),
        "compgen" | "complete" => Judgement::data(T0, format!("{name} lists or sets completions")),
        "hash" if !args.iter().any(|w| w.text.starts_with("-p")) => {
            Judgement::data(T0, "hash lists or resets remembered paths")
        }
        "fc" if args
            .iter()
            .any(|w| w.text.starts_with('-') && w.text.contains('l')) =>
        {
            Judgement::data(T0, "fc -l lists history")
        }
        "enable"
            if !args
                .iter()
                .any(|w| w.text.starts_with('-') && w.text.contains('f')) =>
        {
            Judgement::data(T0, "enable lists or switches builtins")
        }
        _ => return None,
    })
}

/// A verdict that keeps every argument under the raw-text floor.
fn opaque(tier: Tier, rule: &str, args: &[Word]) -> Judgement {
    let mut j = Judgement::data(tier, rule);
    j.opaque_args = (0..args.len()).collect();
    j
}

fn history(args: &[Word]) -> Judgement {
    let flags: String = args
        .iter()
        .take_while(|w| w.text.starts_with('-'))
        .flat_map(|w| w.text.chars().skip(1))
        .collect();
    let writes = flags.contains('w') || flags.contains('a');
    if !writes {
        return Judgement::data(T0, "history reads or edits this shell's list");
    }
    let mut j = Judgement::data(T1, "history -w/-a writes the history file");
    match args.iter().find(|w| !w.text.starts_with('-')) {
        Some(file) => j.writes.push(Dest::write(&file.text, file.literal)),
        None => j.rule = "history -w/-a writes $HISTFILE".into(),
    }
    j
}

fn pager(c: &mut Call<'_>) {
    let name = c.name.to_string();
    c.raise(
        T1,
        format!("{name} is interactive (a pager can write files or spawn a shell)"),
    );
    let ops = c.operands();
    for at in ops {
        let w = c.args().get(at).map_or("", |w| w.text.as_str()).to_string();
        if let Some(cmd) = w.strip_prefix('+') {
            let harmless = cmd.is_empty()
                || matches!(cmd, "F" | "G" | "g" | "N")
                || cmd.bytes().all(|b| b.is_ascii_digit())
                || cmd.starts_with('/') && !cmd.contains(['!', '|']);
            if !harmless {
                c.raise(
                    T2,
                    format!("{name} {w}: an initial command can run programs"),
                );
                c.opaque(at);
            }
        }
    }
}

fn editor(c: &mut Call<'_>) {
    let name = c.name.to_string();
    c.raise(
        T1,
        format!("{name} is an interactive editor (it can write files or spawn a shell)"),
    );
    for at in c.operands() {
        if c.args().get(at).is_some_and(|w| w.text.starts_with('+')) {
            c.raise(
                T2,
                format!("{name} +command runs editor commands (a shell among them)"),
            );
            c.opaque(at);
        }
    }
    if matches!(c.name, "ed" | "ex" | "red") {
        c.j.stdin_code = StdinCode::Other;
    }
    // vim's `-s FILE` feeds Normal-mode commands (`:!…` among them); after `-e` it means silent.
    if c.has("-s") && !(c.has("-e") || c.has("-E") || c.name == "ex") {
        let name = c.name.to_string();
        c.raise(T2, format!("{name} -s reads editor commands from a file"));
    }
}

fn man(c: &mut Call<'_>) {
    let lookup = [
        "-k",
        "-f",
        "-w",
        "--where",
        "-K",
        "--path",
        "--location-cat",
        "-W",
    ]
    .iter()
    .any(|o| c.has(o));
    let pagers = c.values("-P");
    if lookup {
        c.describe("man looks pages up (no pager)");
    } else if let Some(v) = pagers.first().copied() {
        // The page is rendered (and cached in /var/cache/man) before the pager runs.
        c.raise(
            T1,
            "man renders a page (writing its cache) for the given pager",
        );
        c.runs_code(v);
    } else {
        c.raise(T1, "man opens a pager (it can spawn a shell)");
    }
}

fn interactive(c: &mut Call<'_>) {
    let name = c.name.to_string();
    c.raise(
        T1,
        format!("{name} is interactive (it can change or kill what it shows)"),
    );
}

fn multiplexer(c: &mut Call<'_>) {
    let name = c.name.to_string();
    let words = c.operand_texts();
    let reads = words.len() == 1
        && matches!(
            words[0],
            "ls" | "list-sessions"
                | "list-windows"
                | "list-panes"
                | "list-clients"
                | "list-buffers"
                | "list-commands"
                | "list-keys"
                | "has-session"
                | "has"
                | "show-options"
                | "show"
                | "show-environment"
                | "showenv"
                | "info"
                | "server-info"
                | "-ls"
                | "-list"
                | "-v"
                | "-V"
                | "--version"
                | "-h"
                | "--help"
        );
    if c.args().is_empty() {
        c.raise(T1, format!("{name} starts an interactive session"));
    } else if !reads {
        c.raise(T2, format!("{name} runs commands in a session"));
        for at in 0..c.args().len() {
            c.opaque(at);
        }
    }
}

/// `fd -x CMD…`, `fd -X CMD…`: the rest of the words are a command run per match.
fn fd(c: &mut Call<'_>) {
    let raw: Vec<String> = c.args().iter().map(|w| w.text.clone()).collect();
    if let Some(i) = raw
        .iter()
        .position(|w| matches!(w.as_str(), "-x" | "--exec" | "-X" | "--exec-batch"))
    {
        c.describe("fd runs a command for each match");
        let end = raw
            .iter()
            .skip(i + 1)
            .position(|w| w == ";")
            .map_or(c.args().len(), |p| i + 1 + p);
        let start = c.index(i + 1);
        if i + 1 < end {
            c.j.inner.push(Inner::Argv {
                start,
                end: c.index(end),
                partial: true,
            });
        }
    }
}

/// `find`: each primary known; `-delete` destroys, `-fprint*`/`-fls` write their file,
/// `-exec`/`-ok` run what follows; an unknown primary is tier 2 (find can run programs).
fn find(c: &mut Call<'_>) {
    const ONE: &[&str] = &[
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-regex",
        "-iregex",
        "-type",
        "-xtype",
        "-size",
        "-mtime",
        "-mmin",
        "-atime",
        "-amin",
        "-ctime",
        "-cmin",
        "-newer",
        "-anewer",
        "-cnewer",
        "-perm",
        "-user",
        "-group",
        "-uid",
        "-gid",
        "-links",
        "-inum",
        "-samefile",
        "-lname",
        "-ilname",
        "-maxdepth",
        "-mindepth",
        "-regextype",
        "-files0-from",
        "-printf",
        "-used",
        "-fstype",
        "-context",
        "-D",
        "-O",
    ];
    const NONE: &[&str] = &[
        "-print",
        "-print0",
        "-ls",
        "-prune",
        "-quit",
        "-true",
        "-false",
        "-not",
        "-a",
        "-and",
        "-o",
        "-or",
        "!",
        "(",
        ")",
        ",",
        "-depth",
        "-d",
        "-xdev",
        "-mount",
        "-follow",
        "-noleaf",
        "-daystart",
        "-ignore_readdir_race",
        "-noignore_readdir_race",
        "-warn",
        "-nowarn",
        "-empty",
        "-readable",
        "-writable",
        "-executable",
        "-nouser",
        "-nogroup",
        "-H",
        "-L",
        "-P",
        "-help",
        "--help",
        "-version",
        "--version",
        "-print0",
    ];
    let args: Vec<(String, bool, bool)> = c
        .args()
        .iter()
        .map(|w| (w.text.clone(), w.literal, w.may_be_option))
        .collect();
    let mut i = 0;
    while i < args.len() {
        let (t, literal, may_be_option) = (&args[i].0, args[i].1, args[i].2);
        let t = t.as_str();
        if !literal {
            if may_be_option {
                c.raise(
                    T2,
                    "find has a word that is not a literal (it could expand to -delete or -exec)",
                );
            }
            i += 1;
            continue;
        }
        if ONE.contains(&t) || t.starts_with("-newer") || t.starts_with("-O") && t.len() > 2 {
            i += if t.starts_with("-O") && t.len() > 2 {
                1
            } else {
                2
            };
            continue;
        }
        if NONE.contains(&t) || !t.starts_with('-') {
            i += 1;
            continue;
        }
        match t {
            "-delete" => {
                c.raise(T3, "find -delete removes every match");
                i += 1;
            }
            "-fprint" | "-fprint0" | "-fls" | "-fprintf" => {
                c.raise(T1, format!("find {t} writes a file"));
                if i + 1 < args.len() {
                    c.write_operand(i + 1, false);
                }
                i += if t == "-fprintf" { 3 } else { 2 };
            }
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let start = i + 1;
                let end = args[start..]
                    .iter()
                    .position(|w| w.0 == ";" || w.0 == "+")
                    .map_or(args.len(), |p| start + p);
                c.describe("find -exec runs a command for each match");
                if start < end {
                    let (s, e) = (c.index(start), c.index(end));
                    c.j.inner.push(Inner::Argv {
                        start: s,
                        end: e,
                        partial: false,
                    });
                }
                i = end + 1;
            }
            other => {
                let other = other.to_string();
                c.raise(
                    T2,
                    format!("find: primary {other} is not known to be read-only"),
                );
                c.opaque(i);
                i += 1;
            }
        }
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &[
            "less", "more", "most", "pg", "zless", "zmore", "bzless", "xzless",
        ],
        Reader,
        "-?,--help!h -V,--version!h -a,--search-skip-screen -A,--SEARCH-SKIP-SCREEN -b:,--buffers= -B,--auto-buffers -c,--clear-screen -C,--CLEAR-SCREEN -d,--dumb -D: -e,--quit-at-eof -E,--QUIT-AT-EOF -f,--force -F,--quit-if-one-screen -g,--hilite-search -G,--HILITE-SEARCH -h: -i,--ignore-case -I,--IGNORE-CASE -j: -J,--status-column -k:,--lesskey-file=!r -K,--quit-on-intr -L,--no-lessopen -m,--long-prompt -M,--LONG-PROMPT -n,--line-numbers -N,--LINE-NUMBERS -o:,--log-file=!w -O:,--LOG-FILE=!w -p:,--pattern= -P:,--prompt= -q,--quiet,--silent -Q,--QUIET,--SILENT -r,--raw-control-chars -R,--RAW-CONTROL-CHARS -s,--squeeze-blank-lines -S,--chop-long-lines -t:,--tag= -T:,--tag-file= -u,--underline-special -U,--UNDERLINE-SPECIAL -w,--hilite-unread -W,--HILITE-UNREAD -x:,--tabs= -X,--no-init -y: -z: -# --mouse --wheel-lines= --use-color --incsearch --no-keypad --follow-name --save-marks --redraw-on-quit --exit-follow-on-close --line-num-width= --status-col-width= --header= --ignore-case --use-backslash --wordwrap",
        pager,
    ),
    judged(
        &["man"],
        Reader,
        "-C:,--config-file=!r -d,--debug -D,--default --warnings=? -f,--whatis -k,--apropos -K,--global-apropos -l,--local-file -w,--where,--path,--location -W,--where-cat,--location-cat -c,--catman!W -R:,--recode= -L:,--locale= -m:,--systems= -M:,--manpath= -S:,-s:,--sections= -e:,--extension= -i,--ignore-case -I,--match-case --regex --wildcard --names-only -a,--all -u,--update!W --no-subpages -P:,--pager= -r:,--prompt= -7,--ascii -E:,--encoding= --no-hyphenation,--nh --no-justification,--nj -p:,--preprocessor=!x -t,--troff -T::,--troff-device=? -H::,--html=?!x -X::,--gxditview=? -Z,--ditroff -?,--help!h --usage!h -V,--version!h",
        man,
    ),
    judged(
        &["info", "pinfo"],
        Reader,
        "-a,--all -k:,--apropos= -d:,--directory= --dribble=!w -f:,--file= -h,--help!h --index-search= -n:,--node= -o:,--output=!w -O,--show-options,--usage -R,--raw-escapes --restore=!r --strict-node-location --subnodes -v:,--variable= --version!h -w,--where -x:,--debug=",
        pager,
    ),
    judged(
        &[
            "vi", "vim", "nvim", "view", "vimdiff", "gvim", "rvim", "ex", "nano", "pico", "emacs",
            "ed", "red", "joe", "micro", "mcedit", "jed", "kak", "hx", "helix", "mg",
        ],
        Reader,
        "-c:!x --cmd=!x -S:!x -s -u:!x -U:!x -W:!w -w:!w --eval=!x -l:!x --load=!x -f:!x --funcall=!x --batch!X --script=!x -x:!x -e -E -n -N -R -M -m -b -l -d -r -L -o:: -O:: -p:: -y -Z -g -f -v -q -V::!h -h,--help!h --version!h --clean --noplugin -i: -T: -t: --nofork --noplugins --headless -es -Es --no-site-file --no-init-file -Q -nw --daemon!X --restricted -B -D -F -A -H -I -J -K -P -Y -Z",
        editor,
    ),
    judged(
        &[
            "htop",
            "btop",
            "atop",
            "nmtui",
            "mc",
            "ranger",
            "nnn",
            "lf",
            "vifm",
            "ncdu",
            "glances",
            "k9s",
            "lazygit",
            "lazydocker",
            "tig",
            "bpytop",
            "nvtop",
            "bmon",
            "nethogs",
        ],
        Reader,
        "-h,--help!h -V,--version!h -v!h",
        interactive,
    ),
    judged(
        &["tmux", "screen", "byobu", "zellij"],
        Risky,
        "@raw",
        multiplexer,
    ),
    judged(&["find", "gfind"], Risky, "@raw", find),
    judged(
        &["fd", "fdfind"],
        Reader,
        "-H,--hidden -I,--no-ignore -u,--unrestricted -s,--case-sensitive -i,--ignore-case -g,--glob --regex -F,--fixed-strings -a,--absolute-path -l,--list-details -L,--follow -p,--full-path -0,--print0 -d:,--max-depth= --min-depth= --exact-depth= -E:,--exclude= -t:,--type= -e:,--extension= -S:,--size= --changed-within=,--change-newer-than=,--newer= --changed-before=,--change-older-than=,--older= -o:,--owner= --format= -x,--exec -X,--exec-batch --batch-size= --ignore-file= -c:,--color= --hyperlink=? -j:,--threads= --max-results= -1 -q,--quiet --show-errors --base-directory= --path-separator= --search-path= --strip-cwd-prefix=? --one-file-system,--mount,--xdev --prune --no-ignore-vcs --no-ignore-parent --no-global-ignore-file --no-require-git --ignore-vcs --ignore-case -h,--help!h -V,--version!h",
        fd,
    ),
    decl(
        &["rg", "ripgrep"],
        Reader,
        "-A:,--after-context= -B:,--before-context= -C:,--context= --binary --block-buffered -b,--byte-offset -s,--case-sensitive --color= --colors= --column --context-separator= -c,--count --count-matches --crlf --debug --dfa-size-limit= -E:,--encoding= --engine= --field-context-separator= --field-match-separator= -f:,--file= --files -l,--files-with-matches --files-without-match -F,--fixed-strings -L,--follow --generate= -g:,--glob= --glob-case-insensitive -h,--help!h --heading --hidden --hostname-bin=!x --hyperlink-format= --iglob= -i,--ignore-case --ignore-file= --ignore-file-case-insensitive --include-zero -v,--invert-match --json --line-buffered -n,--line-number -N,--no-line-number -x,--line-regexp -M:,--max-columns= --max-columns-preview -m:,--max-count= -d:,--max-depth=,--maxdepth= --max-filesize= --mmap -U,--multiline --multiline-dotall --no-config --no-filename --no-heading --no-ignore --no-ignore-dot --no-ignore-exclude --no-ignore-files --no-ignore-global --no-ignore-messages --no-ignore-parent --no-ignore-vcs --no-messages --no-mmap --no-pcre2-unicode --no-require-git --no-unicode -0,--null --null-data --one-file-system -o,--only-matching --passthru,--passthrough --path-separator= -P,--pcre2 --pcre2-version --pre=!x --pre-glob= -p,--pretty -q,--quiet --regex-size-limit= -e:,--regexp= -r:,--replace= -z,--search-zip --smart-case,-S --sort= --sortr= --stats --stop-on-nonmatch -a,--text -j:,--threads= --trace --trim -t:,--type= -T:,--type-not= --type-add= --type-clear= --type-list -u,--unrestricted -V,--version!h --vimgrep -H,--with-filename -I,--no-filename -w,--word-regexp --auto-hybrid-regex --no-auto-hybrid-regex --sort-files --no-sort-files --byte-offset",
    ),
    decl(
        &["ag"],
        Reader,
        "--ackmate --ackmate-dir-filter= -a,--all-types -A:,--after= -B:,--before= --break --nobreak -c,--count --color --nocolor --color-line-number= --color-match= --color-path= --column --nocolumn -C::,--context=? -D,--debug --depth= -f,--follow -F,--fixed-strings --filename --nofilename -g: -G:,--file-search-regex= --group --nogroup -H,--heading --noheading --hidden -i,--ignore-case --ignore= --ignore-dir= -l,--files-with-matches -L,--files-without-matches --list-file-types -m:,--max-count= --mmap --nommap --multiline --nomultiline -n,--norecurse --numbers --nonumbers -o,--only-matching --one-device -p:,--path-to-ignore= --pager=!x --nopager --parallel --passthrough,--passthru --print0,-0 --print-all-files --print-long-lines -Q,--literal -r,-R,--recurse -s,--case-sensitive -S,--smart-case --search-binary --silent --stats --stats-only -t,--all-text -u,--unrestricted -U,--skip-vcs-ignores -v,--invert-match -V,--version!h --vimgrep -w,--word-regexp -W:,--width= -z,--search-zip -h,--help!h",
    ),
    decl(
        &["ack", "ack-grep"],
        Reader,
        "-i,--ignore-case -I,--no-ignore-case -S,--smart-case -v,--invert-match -w,--word-regexp -Q,--literal --lines= -l,--files-with-matches -L,--files-without-matches --output= -o --passthru --match= -m:,--max-count= -1 -H,--with-filename -h,--no-filename -c,--count --column --no-column -A:,--after-context= -B:,--before-context= -C::,--context=? --print0 -s --group --nogroup --heading --noheading --break --nobreak --filename --nofilename --color --nocolor --colour --nocolour --pager=!x --nopager --flush -f -g: --sort-files --show-types -k,--known-types --ignore-dir= --noignore-dir= --ignore-file= -r,-R,--recurse -n,--no-recurse --follow --nofollow -t:,--type= -T: --type-add=!r --type-set=!r --type-del= --env --noenv --ackrc=!r --help!h --version!h --range-start= --range-end= --range-invert --proximate=? -p::",
    ),
    decl(
        &[
            "lslogins",
            "hwinfo",
            "inxi",
            "neofetch",
            "screenfetch",
            "fastfetch",
        ],
        Reader,
        "-a,--acc-expiration -c,--colon-separate -e,--export -f,--failed -G,--supp-groups -g:,--groups= -L,--last -l:,--logins= -n,--newline --noheadings --notruncate -o:,--output= --output-all -p,--pwd -r,--raw -s,--system-accs --time-format= -u,--user-accs -Z,--context -z,--print0 -h,--help!h -V,--version!h --short --all --cpu --disk --memory --network -F -b -v -x -xx -xxx -z -c: --stdout --off -B -C -D -G -I -M -N -P -R -S -U -w",
    ),
];
