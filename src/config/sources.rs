//! Where setting names come from besides flags and exact-case variables: the `./.env` file of
//! the working directory (as the Python relay-shell reads it) and variables whose name differs
//! from a setting's only in case; and the warnings for `RELAY_SHELL_*` names that are no
//! setting at all, with a "did you mean" suggestion chosen the way Python's
//! `difflib.get_close_matches` chooses it (ratio ≥ 0.8).
//!
//! Precedence: a flag, then the exact variable, then a differently-cased variable, then
//! `./.env`, then the default. Values read from `.env` configure the server only: they are
//! never put into the process environment, so children do not inherit them (ADR 0020).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{SETTINGS, SettingsArgs};

/// Prefix of every setting's variable.
const PREFIX: &str = "RELAY_SHELL_";
/// Variables of the deployment scripts, not of the server: never warned about.
const EDGE_PREFIX: &str = "RELAY_SHELL_EDGE_";
/// Smallest similarity ratio for a suggestion (difflib's `cutoff`).
const SUGGEST_CUTOFF: f64 = 0.8;

/// The `./.env` file, when the working directory has one: its path and its `KEY=value` pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DotEnv {
    /// Absolute path of the file read (`None`: there was no file).
    pub path: Option<PathBuf>,
    /// Its assignments, in file order (a later one wins).
    pub pairs: Vec<(String, String)>,
}

impl DotEnv {
    /// Read `.env` in the working directory. A missing or unreadable file is no file (the
    /// Python server behaves the same); lines that are not assignments are skipped.
    pub fn read_cwd() -> DotEnv {
        let path = Path::new(".env");
        if !path.is_file() {
            return DotEnv::default();
        }
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let text = std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        DotEnv {
            path: Some(abs),
            pairs: parse_dotenv(&text),
        }
    }

    /// The warning the server logs at start when a `.env` file was read.
    pub fn warning(&self) -> Option<String> {
        self.path.as_ref().map(|p| {
            format!(
                "reading settings from {} in the working directory; run from a directory only \
                 the service account can write (systemd: WorkingDirectory=)",
                p.display()
            )
        })
    }
}

/// Parse dotenv text: `KEY=value`, `export KEY=value`, quoted keys (`'KEY'=`), values in single
/// quotes (literal), double quotes (`\n`, `\"`, `\\` escapes) or bare (a ` #` starts a comment).
pub(crate) fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let key = unquote_key(key);
        if key.is_empty() {
            continue;
        }
        out.push((key.to_string(), parse_value(value.trim_start())));
    }
    out
}

fn unquote_key(key: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = key.strip_prefix(q).and_then(|k| k.strip_suffix(q)) {
            return inner;
        }
    }
    key
}

fn parse_value(v: &str) -> String {
    if let Some(rest) = v.strip_prefix('\'') {
        return rest
            .split_once('\'')
            .map_or(rest, |(inner, _)| inner)
            .to_string();
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        return out;
    }
    let bare = match v.find(" #") {
        Some(i) => &v[..i],
        None => v,
    };
    bare.trim().to_string()
}

/// Give `args` the settings named only by a differently-cased variable or by `.env` (the
/// names are matched case-insensitively, as the Python server matches them).
pub fn fill_from_sources(args: &mut SettingsArgs, env: &[(String, String)], dotenv: &DotEnv) {
    // An exact-case variable is already in `args` (clap read it), so only the others fill;
    // the file's later assignments win over its earlier ones.
    for (name, value) in env.iter().chain(dotenv.pairs.iter().rev()) {
        args.fill_missing(&name.to_ascii_uppercase(), value);
    }
}

/// One line per `RELAY_SHELL_*` name in `env` or `.env` that is no setting, sorted and
/// upper-cased: `ignoring unknown setting NAME`, plus ` (did you mean KNOWN?)` when a known
/// name is close enough. `RELAY_SHELL_EDGE_*` (the deployment scripts' variables) is skipped.
pub fn unknown_setting_warnings(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut unknown: Vec<String> = names
        .into_iter()
        .map(|n| n.to_ascii_uppercase())
        .filter(|n| n.starts_with(PREFIX) && !n.starts_with(EDGE_PREFIX))
        .filter(|n| !SETTINGS.iter().any(|d| d.env == n))
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
        .into_iter()
        .map(|name| match suggestion(&name) {
            Some(known) => format!("ignoring unknown setting {name} (did you mean {known}?)"),
            None => format!("ignoring unknown setting {name}"),
        })
        .collect()
}

/// The known variable closest to `name` (compared without the common prefix, lower-case), if
/// its similarity ratio is at least [`SUGGEST_CUTOFF`]; ties go to the greater name, as
/// `difflib.get_close_matches` breaks them.
fn suggestion(name: &str) -> Option<&'static str> {
    let word: Vec<char> = name[PREFIX.len()..].to_ascii_lowercase().chars().collect();
    let mut best: Option<(f64, &'static str)> = None;
    for d in SETTINGS {
        let field: Vec<char> = d.field.chars().collect();
        let r = ratio(&word, &field);
        if r >= SUGGEST_CUTOFF && best.is_none_or(|(b, n)| r > b || (r == b && d.field > n)) {
            best = Some((r, d.field));
        }
    }
    let field = best?.1;
    SETTINGS.iter().find(|d| d.field == field).map(|d| d.env)
}

/// `difflib.SequenceMatcher(None, a, b).ratio()`: twice the number of matched characters
/// (Ratcliff/Obershelp: the longest common block, then the same on each side of it) over the
/// total length. Names are short, so no junk heuristic applies.
pub(crate) fn ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    2.0 * matched(a, b) as f64 / total as f64
}

fn matched(a: &[char], b: &[char]) -> usize {
    let (i, j, k) = longest_block(a, b);
    if k == 0 {
        return 0;
    }
    k + matched(&a[..i], &b[..j]) + matched(&a[i + k..], &b[j + k..])
}

/// The longest common block `(i, j, k)`; among equals the one starting earliest in `a`, then
/// in `b` (difflib's `find_longest_match`).
fn longest_block(a: &[char], b: &[char]) -> (usize, usize, usize) {
    let mut best = (0, 0, 0);
    let mut prev = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            if ca == cb {
                let k = prev[j] + 1;
                cur[j + 1] = k;
                if k > best.2 {
                    best = (i + 1 - k, j + 1 - k, k);
                }
            }
        }
        prev = cur;
    }
    best
}

/// Every `RELAY_SHELL_*`-looking name of the process environment and `.env`, for
/// [`unknown_setting_warnings`].
pub fn candidate_names(env: &[(String, String)], dotenv: &DotEnv) -> Vec<String> {
    let mut names: BTreeMap<String, ()> = BTreeMap::new();
    for (n, _) in env.iter().chain(&dotenv.pairs) {
        names.insert(n.clone(), ());
    }
    names.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: &str, b: &str) -> f64 {
        ratio(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn ratios_are_difflibs() {
        // Values from Python's difflib.SequenceMatcher(None, a, b).ratio().
        assert_eq!(r("abcd", "bcde"), 0.75);
        assert_eq!(r("max_outpt", "max_output"), 18.0 / 19.0);
        assert_eq!(r("", ""), 1.0);
        assert_eq!(r("abc", "xyz"), 0.0);
        // Ratcliff/Obershelp is not symmetric in general; the block choice follows difflib.
        assert!((r("private volume", "private Thomas") - 0.7142857142857143).abs() < 1e-12);
    }

    #[test]
    fn unknown_names_are_warned_with_a_suggestion() {
        let w = unknown_setting_warnings(
            [
                "RELAY_SHELL_MAX_OUTPT",
                "relay_shell_polcy_mode",
                "RELAY_SHELL_EDGE_DOMAIN",
                "RELAY_SHELL_MAX_OUTPUT",
                "RELAY_SHELL_ZZZ",
                "PATH",
            ]
            .map(String::from),
        );
        assert_eq!(
            w,
            [
                "ignoring unknown setting RELAY_SHELL_MAX_OUTPT (did you mean RELAY_SHELL_MAX_OUTPUT?)",
                "ignoring unknown setting RELAY_SHELL_POLCY_MODE (did you mean RELAY_SHELL_POLICY_MODE?)",
                "ignoring unknown setting RELAY_SHELL_ZZZ",
            ]
        );
    }

    #[test]
    fn dotenv_lines_parse_like_python_dotenv() {
        let pairs = parse_dotenv(
            "# comment\nRELAY_SHELL_A=1\nexport RELAY_SHELL_B = two words # note\n'RELAY_SHELL_C'='x y'\nRELAY_SHELL_D=\"a\\\"b\"\nnot an assignment\n=x\n",
        );
        assert_eq!(
            pairs,
            [
                ("RELAY_SHELL_A".to_string(), "1".to_string()),
                ("RELAY_SHELL_B".into(), "two words".into()),
                ("RELAY_SHELL_C".into(), "x y".into()),
                ("RELAY_SHELL_D".into(), "a\"b".into()),
            ]
        );
    }

    #[test]
    fn sources_rank_below_exact_variables() {
        let mut args = SettingsArgs::from_pairs(&[("RELAY_SHELL_MAX_OUTPUT", "2048")]);
        let dotenv = DotEnv {
            path: Some("/x/.env".into()),
            pairs: vec![
                ("RELAY_SHELL_MAX_OUTPUT".into(), "4096".into()),
                ("relay_shell_policy_mode".into(), "guarded".into()),
            ],
        };
        let env = vec![("relay_shell_max_timeout".to_string(), "30".to_string())];
        fill_from_sources(&mut args, &env, &dotenv);
        assert_eq!(args.get("RELAY_SHELL_MAX_OUTPUT"), Some("2048"));
        assert_eq!(args.get("RELAY_SHELL_POLICY_MODE"), Some("guarded"));
        assert_eq!(args.get("RELAY_SHELL_MAX_TIMEOUT"), Some("30"));
    }
}
