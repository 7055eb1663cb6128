//! Command-line option grammars, read the way the programs read them.
//!
//! A program's options are declared once, as a small text (the *grammar*), and one parser
//! applies the program's own conventions to an argument vector: getopt short options and
//! bundles (`-tIf`), attached and separate values (`-Ivalue`, `-I value`), optional values that
//! must be attached (`-i.bak`, `--color=auto`), getopt_long long options with GNU abbreviation
//! (`--expr` is `--expression`), `--` ending the options, permutation (options after operands),
//! `getopt_long_only` and iproute2's ordered prefix matching of single-dash words (`ip -br` is
//! `-brief`, `ip -b` is `-batch`), Go's `flag` package, and tar's old-style first word.
//!
//! Nothing here knows what an option *does*: each option carries free-form tags chosen by the
//! declaring table (the classifier tags writes and code; the redactor can tag secrets). The
//! module depends on nothing else in the crate, so every consumer parses command lines the same
//! way.
//!
//! # Grammar text
//!
//! Whitespace-separated entries. An entry is one or more comma-separated names, optionally
//! followed by `!` and tag characters: `-o:,--output=!w`.
//!
//! | Name | Meaning |
//! |---|---|
//! | `-x` | short flag |
//! | `-x:` | short option with a value (rest of the word, or the next word) |
//! | `-x::` | short option with an optional value (rest of the word only) |
//! | `--name` | long flag |
//! | `--name=` | long option with a value (`--name=v` or `--name v`) |
//! | `--name=?` | long option with an optional value (`--name=v` only) |
//! | `-name`, `-name=`, `-name=?` | single-dash long option (styles `@long-only`, `@first-match`, `@go`, `@single`) |
//! | `-#` | a word of digits after one dash (`head -5`, `kill -9`) is this option |
//!
//! Entries starting with `@` set the style (default: GNU getopt_long, permuting, abbreviating):
//! `@posix` stops at the first operand; `@no-abbrev` turns GNU abbreviation off (pflag/cobra);
//! `@long-only` is `getopt_long_only`; `@first-match` is iproute2 (`-word` is the first declared
//! option the word is a prefix of; stops at the first operand); `@go` is Go's `flag` package
//! (`-name` or `--name`, no bundles, stops at the first operand); `@single` is single-dash
//! long names matched exactly (openssl, find's leading options), permuting; `@old-style` reads
//! the first word the way tar does; `@negatable` accepts `--no-NAME` for every declared
//! `--NAME` (git's parse-options), reported as [`Item::Negated`]; `@raw` makes every word an
//! operand, for programs with a grammar of their own (`find`'s expression).

mod dsl;
mod parse;
#[cfg(test)]
mod tests;

pub use dsl::GrammarError;

/// Whether and how an option takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// No value.
    Flag,
    /// A value: attached (`-ofile`, `--out=file`) or the next word.
    Required,
    /// An optional value, which must be attached (`-i.bak`, `--color=auto`).
    Optional,
}

/// How single-dash words with more than one letter are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dash {
    /// getopt: `-abc` is a bundle of short options.
    Bundle,
    /// `getopt_long_only`: `-abc` is tried as a long option first.
    LongOnly,
    /// iproute2: `-abc` is the first declared long option it is a prefix of.
    FirstMatch,
    /// Go `flag`: `-abc` and `--abc` are the same long name; no bundles.
    Go,
    /// Single-dash long names matched exactly (`-noout`, `-in`).
    Single,
}

/// Identifies one declared option (all its names share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptId(pub u16);

/// One declared option.
#[derive(Clone, Debug)]
pub struct OptionInfo {
    /// Every name as declared (`-o`, `--output`), the first one canonical.
    pub names: Vec<&'static str>,
    /// Tag characters from the grammar (meaning chosen by the declaring table).
    pub tags: &'static str,
    /// The arity of the first name.
    pub arity: Arity,
}

/// A long (or single-dash long) name.
#[derive(Clone, Debug)]
struct LongName {
    name: &'static str,
    id: OptId,
    arity: Arity,
}

/// A program's option grammar, built once from its grammar text.
#[derive(Clone, Debug)]
pub struct Grammar {
    options: Vec<OptionInfo>,
    /// Short option characters with their option and arity.
    shorts: Vec<(char, OptId, Arity)>,
    /// For each ASCII character, 1 + the index in `shorts` of its first entry (0: none;
    /// `u16::MAX`: search `shorts`): a short option is looked up per character of every
    /// bundle, and a client such as curl declares dozens.
    short_index: [u16; 128],
    /// Long names in declaration order (the order matters for `@first-match`).
    longs: Vec<LongName>,
    /// The `-#` option, if declared.
    digits: Option<(OptId, Arity)>,
    permute: bool,
    abbreviate: bool,
    dash: Dash,
    /// tar's old-style first word (`@old-style`).
    old_style: bool,
    /// `--no-NAME` turns a declared `--NAME` off (`@negatable`).
    negatable: bool,
    /// Every word is an operand (`@raw`): the program reads its words itself (`find`).
    raw: bool,
}

/// Where an option's value is: `args[at][start..]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value {
    /// Index of the word holding the value.
    pub at: usize,
    /// Byte offset of the value in that word.
    pub start: usize,
}

impl Value {
    /// The value's text in `args`.
    pub fn text<'a, S: AsRef<str>>(&self, args: &'a [S]) -> &'a str {
        args.get(self.at)
            .and_then(|w| w.as_ref().get(self.start..))
            .unwrap_or("")
    }
}

/// One thing the parser found, in argument order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A declared option, found in word `at`, with its value if it has one.
    Opt {
        /// The option.
        id: OptId,
        /// The word the option name is in.
        at: usize,
        /// Its value.
        value: Option<Value>,
    },
    /// A word that is an operand.
    Operand {
        /// Its index.
        at: usize,
    },
    /// `--no-NAME` for a declared `--NAME` in a `@negatable` grammar (git's parse-options):
    /// the option turned off.
    Negated {
        /// The option.
        id: OptId,
        /// The word.
        at: usize,
    },
    /// The `--` that ended the options.
    EndOfOptions {
        /// Its index.
        at: usize,
    },
    /// An option the grammar does not declare (`offset`: where in word `at` it starts).
    Unknown {
        /// The word.
        at: usize,
        /// Byte offset of the unknown option in the word (after the dashes for a bundle).
        offset: usize,
    },
    /// An abbreviation matching several options (getopt refuses it).
    Ambiguous {
        /// The word.
        at: usize,
        /// The options it could be.
        candidates: Vec<OptId>,
    },
    /// An option that needs a value at the end of the words.
    MissingValue {
        /// The option.
        id: OptId,
        /// The word.
        at: usize,
    },
    /// `--flag=value` for an option that takes none (getopt refuses it).
    UnexpectedValue {
        /// The option.
        id: OptId,
        /// The word.
        at: usize,
    },
}

/// The result of parsing one argument vector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Everything found, in order.
    pub items: Vec<Item>,
}

impl Parsed {
    /// Indices of the operands, in order.
    pub fn operands(&self) -> impl Iterator<Item = usize> + '_ {
        self.items.iter().filter_map(|i| match i {
            Item::Operand { at } => Some(*at),
            _ => None,
        })
    }

    /// Every occurrence of option `id`, with its value.
    pub fn occurrences(&self, id: OptId) -> impl Iterator<Item = (usize, Option<Value>)> + '_ {
        self.items.iter().filter_map(move |i| match i {
            Item::Opt { id: o, at, value } if *o == id => Some((*at, *value)),
            _ => None,
        })
    }

    /// The values of every given option whose tags contain `tag` (for instance the secrets a
    /// redactor tags `k`: `mysql -pSECRET`, `--password=…`), with the word and offset they are at.
    pub fn tagged_values(&self, grammar: &Grammar, tag: char) -> Vec<Value> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Opt {
                    id, value: Some(v), ..
                } if grammar.tags(*id).contains(tag) => Some(*v),
                _ => None,
            })
            .collect()
    }

    /// Whether anything was not a declared option or an operand (unknown, ambiguous, or a
    /// value problem): the program would reject the line or do something undeclared.
    pub fn has_problem(&self) -> bool {
        self.items.iter().any(|i| {
            matches!(
                i,
                Item::Unknown { .. }
                    | Item::Ambiguous { .. }
                    | Item::MissingValue { .. }
                    | Item::UnexpectedValue { .. }
            )
        })
    }
}

impl Grammar {
    /// Build a grammar from its text (see the module documentation).
    pub fn new(text: &'static str) -> Result<Grammar, GrammarError> {
        dsl::build(text)
    }

    /// Every declared option.
    pub fn options(&self) -> &[OptionInfo] {
        &self.options
    }

    /// The declaration of `id`.
    pub fn info(&self, id: OptId) -> Option<&OptionInfo> {
        self.options.get(usize::from(id.0))
    }

    /// The tags of `id` (empty for an unknown id).
    pub fn tags(&self, id: OptId) -> &'static str {
        self.info(id).map_or("", |o| o.tags)
    }

    /// The option one of whose names is exactly `name` (`-o`, `--output`, `-noout`).
    pub fn find(&self, name: &str) -> Option<OptId> {
        let mut chars = name.chars();
        if let (Some('-'), Some(c), None) = (chars.next(), chars.next(), chars.next()) {
            if c == '#' {
                return self.digits.map(|d| d.0);
            }
            return self.short(c).map(|s| s.0);
        }
        let bare = name.trim_start_matches('-');
        self.longs.iter().find(|l| l.name == bare).map(|l| l.id)
    }

    /// Parse `args` (the words after the program name). A grammar declared `@old-style` reads
    /// the first word as tar does (see [`Grammar::parse_old_style`]).
    pub fn parse<S: AsRef<str>>(&self, args: &[S]) -> Parsed {
        parse::parse(self, args, self.old_style)
    }

    /// [`Grammar::parse`] into the list of an earlier result, which it replaces: the
    /// redaction of command lines parses several commands per line and reuses one list.
    pub fn parse_reusing<S: AsRef<str>>(&self, args: &[S], earlier: Parsed) -> Parsed {
        parse::parse_into(self, args, self.old_style, earlier.items)
    }

    /// Parse `args` with tar's old-style first word: when it does not start with `-`, its
    /// letters are short options whose values are taken from the following words in order
    /// (`tar cvf out.tar dir` is `-c -v -f out.tar dir`).
    pub fn parse_old_style<S: AsRef<str>>(&self, args: &[S]) -> Parsed {
        parse::parse(self, args, true)
    }
}

/// How a subcommand word is matched against a program's table of subcommands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandMatch {
    /// The word must be a subcommand exactly.
    Exact,
    /// The word may be a prefix; the first subcommand in table order it prefixes wins
    /// (iproute2, nmcli: `ip l s` is `ip link set`).
    FirstPrefix,
    /// The word may be a prefix of exactly one subcommand.
    UniquePrefix,
}

/// Resolve subcommand `word` against `table` under `how`. `None` when nothing matches (or an
/// abbreviation is ambiguous under [`CommandMatch::UniquePrefix`]).
pub fn match_command<'t>(word: &str, table: &[&'t str], how: CommandMatch) -> Option<&'t str> {
    if let Some(exact) = table.iter().find(|c| **c == word) {
        return Some(exact);
    }
    if word.is_empty() {
        return None;
    }
    match how {
        CommandMatch::Exact => None,
        CommandMatch::FirstPrefix => table.iter().find(|c| c.starts_with(word)).copied(),
        CommandMatch::UniquePrefix => {
            let mut found = table.iter().filter(|c| c.starts_with(word));
            match (found.next(), found.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        }
    }
}
