//! Declared programs: each program's options are declared once, as a grammar
//! ([`crate::policy::options`]) whose tags say what an option does, and one evaluation turns
//! the parsed command line into a verdict. Tier 0 is an allowlist: a command is read-only only
//! when every option it is given is declared and none is tagged with an effect; an option the
//! grammar does not know makes it tier 1, or 2 for programs that can write, run code or send.
//!
//! Tags (characters after `!` in a grammar entry):
//!
//! | Tag | The option… | Effect |
//! |---|---|---|
//! | `h` | prints help or a version | the whole command is tier 0, unless an option tagged `x c r R s d n l X` is also given |
//! | `w` | names a file the program writes (`-` is standard output) | the path judge |
//! | `t` | names a directory the program writes into | the path judge |
//! | `W` | makes the program write files it does not name | 1 |
//! | `i` | edits the operand files in place | 2 |
//! | `x` | names a program or command line the program runs | 2, the value stays under the raw-text floor |
//! | `X` | makes the program run programs | 2 |
//! | `c` | carries shell code (`-c CODE`, `--to-command=CODE`) | the code is classified |
//! | `r` | names a file read as code or configuration that can run or write | 2 |
//! | `s` | changes system state | 2 |
//! | `d` | destroys data | 3 |
//! | `n` | sends data out (uploads, request bodies) | 2 |
//! | `R` | sends credentials or requests to another endpoint | 2 |
//! | `l` | listens for connections | 2 |
//! | `p` | starts an interactive pager or editor | 1 |
//! | `1` | writes or changes something small | 1 |
//! | `e` | carries `NAME=value` for a command it runs | the environment judge |
//! | `C` | names the directory relative write paths resolve against | the path judge's base |
//! | `k` | carries a secret | none (for the redactor) |
//! | `m` | is read by the program's own judge | none |

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{Inner, Judgement};
use crate::policy::Tier;
use crate::policy::classify::environment;
use crate::policy::classify::paths::Dest;
use crate::policy::classify::words::Word;
use crate::policy::options::{Grammar, Item, OptId, Parsed, Value};

use Tier::{Irreversible as T3, ReadOnly as T0, Reversible as T1, Stateful as T2};

/// What a program can do at worst, which decides how unknown options and run-time words count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Reads in its declared forms. An unknown option is tier 1 (the allowlist) — tier 2 when
    /// some declared option can write, run or send; a word that may expand to an option counts
    /// the same, unless no declared option has any effect (then it is harmless).
    Reader,
    /// Can write, run code or change state: unknown options and words that may expand to
    /// options are tier 2.
    Risky,
    /// Talks to the network: as `Risky`, and any word computed at run time (a host, a URL, a
    /// header, a payload) is tier 2 — DNS and ICMP carry data too.
    Network,
    /// A cloud or infrastructure CLI judged by its verb: the options it does not declare are
    /// API parameters (they neither raise nor lower the verb's tier); the ones it declares
    /// (credentials, endpoints, output files) are tagged as usual.
    Api,
}

/// A program specific verdict, run after the generic evaluation.
pub(crate) type JudgeFn = fn(&mut Call<'_>);

/// One program's declaration.
pub(crate) struct Decl {
    /// The names it is run as (`grep`, `egrep`); subcommand grammars are named `git log`.
    pub names: &'static [&'static str],
    /// Its option grammar.
    pub grammar: &'static str,
    /// What it can do at worst.
    pub class: Class,
    /// Its own judge (subcommands, operands), if any.
    pub judge: Option<JudgeFn>,
}

/// Shorthand for a declaration without its own judge.
pub(crate) const fn decl(
    names: &'static [&'static str],
    class: Class,
    grammar: &'static str,
) -> Decl {
    Decl {
        names,
        grammar,
        class,
        judge: None,
    }
}

/// Shorthand for a declaration with its own judge.
pub(crate) const fn judged(
    names: &'static [&'static str],
    class: Class,
    grammar: &'static str,
    judge: JudgeFn,
) -> Decl {
    Decl {
        names,
        grammar,
        class,
        judge: Some(judge),
    }
}

/// A declaration with its grammar built.
pub(crate) struct Entry {
    pub decl: &'static Decl,
    pub grammar: Grammar,
    /// The highest tier any declared option's tags impose.
    pub worst: Tier,
}

static REGISTRY: LazyLock<HashMap<&'static str, Entry>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for table in super::DECLARATIONS {
        for decl in *table {
            let Ok(grammar) = Grammar::new(decl.grammar) else {
                // A constant table with a bad grammar: the program stays unknown (tier 2), and
                // a unit test names it.
                continue;
            };
            let worst = grammar
                .options()
                .iter()
                .flat_map(|o| o.tags.chars())
                .map(|t| match t {
                    'w' | 't' | 'c' | 'e' => T2,
                    t => tag_effect(t).map_or(T0, |e| e.0),
                })
                .max()
                .unwrap_or(T0);
            for name in decl.names {
                map.insert(
                    *name,
                    Entry {
                        decl,
                        grammar: grammar.clone(),
                        worst,
                    },
                );
            }
        }
    }
    map
});

/// Build the declarations now.
pub(crate) fn prepare() {
    LazyLock::force(&REGISTRY);
}

/// The declaration of `name` (a program, or `program subcommand`).
pub(crate) fn lookup(name: &str) -> Option<&'static Entry> {
    REGISTRY.get(name)
}

/// Every declared name with its grammar (tests and generators enumerate them).
pub(crate) fn all() -> impl Iterator<Item = (&'static str, &'static Entry)> {
    REGISTRY.iter().map(|(k, v)| (*k, v))
}

/// A command line being judged against its declaration.
pub(crate) struct Call<'a> {
    /// The program name (or `program subcommand`).
    pub name: &'a str,
    /// The whole argument vector of the command (after the program name).
    pub all: &'a [Word],
    /// Where this call's words start in `all` (a subcommand's are a suffix).
    pub offset: usize,
    pub grammar: &'a Grammar,
    pub parsed: Parsed,
    pub class: Class,
    /// The highest tier any declared option imposes.
    pub worst: Tier,
    /// The verdict being built.
    pub j: Judgement,
    /// Directory relative write paths resolve against (`tar -C`).
    pub base: Option<String>,
}

impl<'a> Call<'a> {
    /// This call's words.
    pub(super) fn args(&self) -> &'a [Word] {
        self.all.get(self.offset..).unwrap_or(&[])
    }

    /// Raise the verdict to `tier` for `rule` (the first rule at the highest tier is kept).
    pub(super) fn raise(&mut self, tier: Tier, rule: impl Into<String>) {
        if tier > self.j.tier {
            self.j.tier = tier;
            self.j.rule = rule.into();
        }
    }

    /// Set the verdict's rule without changing its tier (a subcommand's own reading).
    pub(super) fn describe(&mut self, rule: impl Into<String>) {
        self.j.rule = rule.into();
    }

    /// The text of an option value.
    pub(super) fn value_text(&self, v: Value) -> &'a str {
        self.args()
            .get(v.at)
            .and_then(|w| w.text.get(v.start..))
            .unwrap_or("")
    }

    /// Whether the word holding a value is a literal.
    pub(super) fn value_literal(&self, v: Value) -> bool {
        self.args().get(v.at).is_some_and(|w| w.literal)
    }

    /// Index in `all` of this call's word `at`.
    pub(super) fn index(&self, at: usize) -> usize {
        self.offset + at
    }

    /// Keep word `at` (of this call) under the raw-text floor.
    pub(super) fn opaque(&mut self, at: usize) {
        let i = self.index(at);
        if !self.j.opaque_args.contains(&i) {
            self.j.opaque_args.push(i);
        }
    }

    /// Operand indices (of this call's words).
    pub(super) fn operands(&self) -> Vec<usize> {
        self.parsed.operands().collect()
    }

    /// Operand texts.
    pub(super) fn operand_texts(&self) -> Vec<&'a str> {
        let args = self.args();
        self.parsed
            .operands()
            .filter_map(|i| args.get(i).map(|w| w.text.as_str()))
            .collect()
    }

    /// Whether an option named `name` (any of its names) was given.
    pub(super) fn has(&self, name: &str) -> bool {
        self.grammar
            .find(name)
            .is_some_and(|id| self.parsed.occurrences(id).next().is_some())
    }

    /// The values of option `name`, in order.
    pub(super) fn values(&self, name: &str) -> Vec<Value> {
        let Some(id) = self.grammar.find(name) else {
            return Vec::new();
        };
        self.parsed.occurrences(id).filter_map(|(_, v)| v).collect()
    }

    /// Whether any given option carries tag `tag`.
    pub(super) fn has_tag(&self, tag: char) -> bool {
        self.parsed.items.iter().any(|i| match i {
            Item::Opt { id, .. } => self.grammar.tags(*id).contains(tag),
            _ => false,
        })
    }

    /// Record a write to the path in word `at` from byte `start` (an option value or operand).
    pub(super) fn write_to(&mut self, v: Value, replaces: bool) {
        let text = self.value_text(v);
        if text == "-" {
            return;
        }
        self.j.writes.push(Dest {
            path: text.to_string(),
            literal: self.value_literal(v),
            base: self.base.clone(),
            replaces,
        });
    }

    /// Record a write to operand word `at`.
    pub(super) fn write_operand(&mut self, at: usize, replaces: bool) {
        self.write_to(Value { at, start: 0 }, replaces);
    }

    /// The words from this call's word `at` on are a command line the program runs.
    pub(super) fn runs_argv(&mut self, at: usize) {
        let start = self.index(at);
        if start < self.all.len() {
            self.j.inner.push(Inner::Argv {
                start,
                end: self.all.len(),
                partial: false,
            });
        }
    }

    /// The value `v` is shell code the program runs.
    pub(super) fn runs_code(&mut self, v: Value) {
        let index = self.index(v.at);
        let text = self.value_text(v).to_string();
        self.j.inner.push(Inner::ShellText { index, text });
    }

    /// Judge the rest of the words, from this call's word `at`, with the grammar declared as
    /// `name` (a subcommand). `false` when `name` is not declared.
    pub(super) fn continue_as(&mut self, name: &'a str, at: usize) -> bool {
        let Some(entry) = lookup(name) else {
            return false;
        };
        let offset = self.index(at);
        let j = std::mem::replace(&mut self.j, Judgement::data(T0, ""));
        let sub = evaluate(name, self.all, offset, entry, j, self.base.clone());
        self.j = sub;
        true
    }
}

/// The tier and description of a tag that raises the verdict by itself.
fn tag_effect(tag: char) -> Option<(Tier, &'static str)> {
    Some(match tag {
        'W' => (T1, "writes files"),
        'i' => (T2, "edits files in place"),
        'x' => (T2, "runs a program it is given"),
        'X' => (T2, "runs programs"),
        'r' => (T2, "reads code or configuration from a file"),
        's' => (T2, "changes system state"),
        'd' => (T3, "destroys data"),
        'n' => (T2, "sends data out"),
        'R' => (
            T2,
            "sends credentials or requests to an endpoint given on the command line",
        ),
        'l' => (T2, "listens for connections"),
        'p' => (T1, "starts an interactive pager or editor"),
        '1' => (T1, "writes or changes something"),
        _ => return None,
    })
}

/// Tags that keep `--help`/`--version` from making the command tier 0.
const ACTING_TAGS: &str = "xcrRsdnlX";

/// Judge `all[offset..]` as program `name` with `entry`'s declaration, continuing verdict `j`.
pub(crate) fn evaluate(
    name: &str,
    all: &[Word],
    offset: usize,
    entry: &Entry,
    mut j: Judgement,
    base: Option<String>,
) -> Judgement {
    let args = all.get(offset..).unwrap_or(&[]);
    let texts: Vec<&str> = args.iter().map(|w| w.text.as_str()).collect();
    let parsed = entry.grammar.parse(&texts);
    if j.rule.is_empty() {
        j.rule = format!("{name} reads only");
    }
    j.known = true;
    let mut call = Call {
        name,
        all,
        offset,
        grammar: &entry.grammar,
        parsed,
        class: entry.decl.class,
        worst: entry.worst,
        j,
        base,
    };
    let help = call.parsed.items.iter().any(|i| match i {
        Item::Opt { id, .. } => call.grammar.tags(*id).contains('h'),
        _ => false,
    });
    if help && !ACTING_TAGS.chars().any(|t| call.has_tag(t)) {
        call.j.rule = format!("{name} prints help or its version");
        return call.j;
    }
    generic(&mut call);
    if let Some(judge) = entry.decl.judge {
        judge(&mut call);
    }
    call.j
}

/// The grammar's verdict: unknown options, tags, and words computed at run time.
fn generic(call: &mut Call<'_>) {
    let name = call.name.to_string();
    let unknown = match call.class {
        Class::Reader if call.worst < T2 => T1,
        Class::Api => T0,
        _ => T2,
    };
    let args = call.args();
    let items = std::mem::take(&mut call.parsed.items);
    let mut values: Vec<usize> = Vec::new();
    let mut end_of_options = usize::MAX;
    for item in &items {
        match item {
            Item::Unknown { at, offset } => {
                let word = args.get(*at).map_or("", |w| w.text.as_str());
                let shown = word.get(*offset..).unwrap_or(word);
                call.raise(
                    unknown,
                    format!("{name}: option {shown:?} is not known to be read-only"),
                );
                call.opaque(*at);
            }
            Item::Ambiguous { at, candidates } => {
                let worst = candidates
                    .iter()
                    .flat_map(|c| call.grammar.tags(*c).chars())
                    .filter_map(tag_effect)
                    .map(|e| e.0)
                    .max()
                    .unwrap_or(T0)
                    .max(unknown);
                call.raise(
                    worst,
                    format!("{name}: an abbreviated option that could mean several"),
                );
                call.opaque(*at);
            }
            Item::MissingValue { at, .. } | Item::UnexpectedValue { at, .. } => {
                call.raise(unknown, format!("{name}: an option with a misplaced value"));
                call.opaque(*at);
            }
            Item::EndOfOptions { at } => end_of_options = end_of_options.min(*at),
            Item::Operand { .. } | Item::Negated { .. } => {}
            Item::Opt { id, at, value } => {
                if let Some(v) = value
                    && v.at != *at
                {
                    values.push(v.at);
                }
                option_effects(call, *id, *at, *value);
            }
        }
    }
    call.parsed.items = items;
    for (i, w) in args.iter().enumerate() {
        if w.literal {
            continue;
        }
        match call.class {
            Class::Network => call.raise(
                T2,
                format!("{name}: a host, URL or payload computed at run time (it sends data)"),
            ),
            // A cloud CLI's command path computed at run time (`aws $S ls` may be
            // `aws s3 rm … ls`): not its verb's tier.
            Class::Api if w.may_be_option && i < end_of_options && !values.contains(&i) => {
                call.raise(
                    T2,
                    format!("{name} has a word computed at run time where it reads its command"),
                );
            }
            Class::Reader | Class::Risky
                if w.may_be_option
                    && i < end_of_options
                    && !values.contains(&i)
                    && (call.class == Class::Risky || call.worst > T0) =>
            {
                // A glob can only pick an option up from an existing file's name.
                let tier = if w.glob_only {
                    unknown.min(T1)
                } else {
                    unknown
                };
                call.raise(
                    tier,
                    format!(
                        "{name} has an argument that is not a literal (it could expand to an option)"
                    ),
                );
            }
            _ => {}
        }
    }
}

/// Apply the tags of one given option.
fn option_effects(call: &mut Call<'_>, id: OptId, at: usize, value: Option<Value>) {
    let tags = call.grammar.tags(id);
    let shown = call
        .grammar
        .info(id)
        .and_then(|o| o.names.first().copied())
        .unwrap_or("?");
    let name = call.name.to_string();
    for tag in tags.chars() {
        if let Some((tier, what)) = tag_effect(tag) {
            call.raise(tier, format!("{name} {shown} {what}"));
            if matches!(tag, 'x' | 'r') {
                call.opaque(at);
                if let Some(v) = value {
                    call.opaque(v.at);
                }
            }
            continue;
        }
        let Some(v) = value else {
            continue;
        };
        match tag {
            'w' => call.write_to(v, false),
            't' => call.write_to(v, false),
            'c' => call.runs_code(v),
            'C' => call.base = Some(call.value_text(v).to_string()),
            'e' => {
                let text = call.value_text(v);
                let var = text.split_once('=').map_or(text, |(n, _)| n);
                if let Some(why) = environment::dangerous(var) {
                    call.raise(T2, format!("{name} {shown}: {why}"));
                }
                if !call.value_literal(v) {
                    call.raise(
                        T2,
                        format!("{name} {shown}: an environment setting computed at run time"),
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_declaration_builds_and_names_are_unique() {
        let mut seen = HashSet::new();
        for table in super::super::DECLARATIONS {
            for decl in *table {
                if let Err(e) = Grammar::new(decl.grammar) {
                    panic!("{:?}: {e}", decl.names); // ok: test
                }
                for name in decl.names {
                    assert!(seen.insert(*name), "{name} is declared twice");
                }
            }
        }
        assert!(seen.len() > 250, "{} declared names", seen.len());
    }

    #[test]
    fn tags_are_known() {
        const TAGS: &str = "hwtWixXcrsdnRlp1eCkm";
        for table in super::super::DECLARATIONS {
            for decl in *table {
                let Ok(g) = Grammar::new(decl.grammar) else {
                    continue;
                };
                for o in g.options() {
                    for t in o.tags.chars() {
                        assert!(
                            TAGS.contains(t),
                            "{:?} {:?}: tag {t:?}",
                            decl.names,
                            o.names
                        );
                    }
                }
            }
        }
    }
}
