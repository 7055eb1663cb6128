//! The grammar text: entries of comma-separated option names with tags, and style switches.

use std::fmt;

use super::{Arity, Dash, Grammar, LongName, OptId, OptionInfo};

/// A grammar text that does not follow the format (a bug in a constant table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrammarError {
    /// The entry that could not be read.
    pub entry: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "grammar entry {:?}: {}", self.entry, self.why)
    }
}

impl std::error::Error for GrammarError {}

fn error(entry: &str, why: &'static str) -> GrammarError {
    GrammarError {
        entry: entry.to_string(),
        why,
    }
}

/// Split a long name from its arity suffix.
fn long_arity(name: &'static str) -> (&'static str, Arity) {
    if let Some(n) = name.strip_suffix("=?") {
        (n, Arity::Optional)
    } else if let Some(n) = name.strip_suffix('=') {
        (n, Arity::Required)
    } else {
        (name, Arity::Flag)
    }
}

/// A name as written on a command line: the declaration without its arity suffix (`:`, `::`,
/// `=`, `=?` are one or two bytes).
fn display_name(name: &'static str, arity: Arity) -> &'static str {
    let cut = match arity {
        Arity::Flag => 0,
        Arity::Required => 1,
        Arity::Optional => 2,
    };
    name.get(..name.len().saturating_sub(cut)).unwrap_or(name)
}

pub(super) fn build(text: &'static str) -> Result<Grammar, GrammarError> {
    let mut g = Grammar {
        options: Vec::new(),
        shorts: Vec::new(),
        short_index: [0; 128],
        longs: Vec::new(),
        digits: None,
        permute: true,
        abbreviate: true,
        dash: Dash::Bundle,
        old_style: false,
        negatable: false,
        raw: false,
    };
    for entry in text.split_whitespace() {
        if let Some(style) = entry.strip_prefix('@') {
            match style {
                "posix" => g.permute = false,
                "no-abbrev" => g.abbreviate = false,
                "long-only" => g.dash = Dash::LongOnly,
                "first-match" => {
                    g.dash = Dash::FirstMatch;
                    g.permute = false;
                }
                "go" => {
                    g.dash = Dash::Go;
                    g.permute = false;
                    g.abbreviate = false;
                }
                "old-style" => g.old_style = true,
                "negatable" => g.negatable = true,
                "raw" => g.raw = true,
                "single" => {
                    g.dash = Dash::Single;
                    g.abbreviate = false;
                }
                _ => return Err(error(entry, "unknown style")),
            }
            continue;
        }
        let (names, tags) = match entry.split_once('!') {
            Some((n, t)) => (n, t),
            None => (entry, ""),
        };
        let id =
            OptId(u16::try_from(g.options.len()).map_err(|_| error(entry, "too many options"))?);
        let mut info = OptionInfo {
            names: Vec::new(),
            tags,
            arity: Arity::Flag,
        };
        for name in names.split(',') {
            let arity = if let Some(long) = name.strip_prefix("--") {
                let (bare, arity) = long_arity(long);
                if bare.is_empty() {
                    return Err(error(entry, "empty long name"));
                }
                g.longs.push(LongName {
                    name: bare,
                    id,
                    arity,
                });
                arity
            } else if let Some(short) = name.strip_prefix('-') {
                let mut chars = short.chars();
                let first = chars.next().ok_or_else(|| error(entry, "empty name"))?;
                let rest = chars.as_str();
                if matches!(rest, "" | ":" | "::") {
                    let arity = match rest {
                        "" => Arity::Flag,
                        ":" => Arity::Required,
                        _ => Arity::Optional,
                    };
                    if first == '#' {
                        g.digits = Some((id, arity));
                    } else {
                        g.shorts.push((first, id, arity));
                    }
                    arity
                } else {
                    let (bare, arity) = long_arity(short);
                    g.longs.push(LongName {
                        name: bare,
                        id,
                        arity,
                    });
                    arity
                }
            } else {
                return Err(error(entry, "an option name starts with '-'"));
            };
            if info.names.is_empty() {
                info.arity = arity;
            }
            info.names.push(display_name(name, arity));
        }
        g.options.push(info);
    }
    for (i, &(c, _, _)) in g.shorts.iter().enumerate().rev() {
        if let Some(slot) = g.short_index.get_mut(c as usize) {
            // An index that does not fit leaves the character to the search.
            *slot = u16::try_from(i + 1).unwrap_or(u16::MAX);
        }
    }
    Ok(g)
}
