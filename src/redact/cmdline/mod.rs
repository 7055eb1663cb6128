//! Credentials in command lines, found by each program's own grammar.
//!
//! The keyword and flag rules see text; this rule reads commands. A text that names a known
//! client (a program or verb name of the table standing as a word of its own, found by one
//! scan of the text's runs of name bytes) is cut into shell words ([`words`]); each simple command that runs a client in
//! [`table`] is parsed with that client's option grammar — the same parser the policy
//! classifier uses (`crate::policy::options`), which knows how `-pSECRET`, `-p SECRET`,
//! `--password=SECRET`, `--password SECRET` and bundles like `-upSECRET` are read — and the
//! values of the options that carry a secret are redacted, with the secrets some programs take
//! positionally (`vault login TOKEN`, `net user NAME PASSWORD`). Two forms need no client
//! ([`forms`]): `set`/`config` verbs whose key names a secret (`redis-cli CONFIG SET
//! requirepass X`, `git config user.password X`, `setx API_TOKEN X`), and `echo`/`printf` into
//! a file whose name says it holds a password (`echo X > /etc/rsync.pass`).
//!
//! Because words follow shell quoting and line continuation, a secret split across a
//! `\`-continued line is one word and is redacted whole.

mod forms;
mod lines;
mod positional;
mod table;
mod words;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::policy::options::{Grammar, Item, OptId, Parsed};

use super::scan::{Hit, Rule, ScanState, Span, next_span};
use forms::{reads_secret_on_stdin, secret_file, set_form, writer};
use lines::{NAME_BYTES, logical_line_end, logical_line_start, next_name};
use positional::{net, oracle_logons};
use table::{Client, HINTS, Positional, Shape, Source};
use words::{Command, Reading, Word};

/// Most words after a program name that are parsed as its arguments (keeps many program
/// names on one line linear).
const MAX_ARGS: usize = 64;

/// Among how many words after a program name its subcommand is looked for.
const SUBCOMMAND_SEARCH: usize = 6;

/// The most words of a subcommand in the table (a unit test checks every row).
const MAX_SUBCOMMAND_WORDS: usize = 3;

/// Words after a `set` verb that its key and value are looked for in.
const SET_FORM_WORDS: usize = 8;

/// The most words after a name that [`in_command`] reads with it (the writer form, which reads
/// every word, is read whole: see [`whole`]).
const LOOKAHEAD: usize = {
    let client = SUBCOMMAND_SEARCH + MAX_SUBCOMMAND_WORDS + MAX_ARGS;
    if client > SET_FORM_WORDS {
        client
    } else {
        SET_FORM_WORDS
    }
};

/// The most words of a command the reader holds before it hands a window of them over: a
/// command of a million words is read in windows, not held whole (the writer form aside).
const WINDOW: usize = 4 * LOOKAHEAD;

/// Verbs whose next words are a key and a value (`set KEY VALUE`).
const SET_VERBS: &[&str] = &["set", "setx", "config"];

/// Programs whose operands, written to a password file, are the secret.
const WRITERS: &[&str] = &["echo", "printf"];

/// Programs that may read a secret on their standard input ([`forms::reads_secret_on_stdin`])
/// and have no row of their own: names, so that a line with a here-string into one is read.
const STDIN_READERS: &[&str] = &["sudo", "chpasswd", "passwd"];

/// A client with its grammar built and its secret options resolved.
struct Built {
    client: &'static Client,
    grammar: Grammar,
    secrets: Vec<(OptId, Shape)>,
}

/// FNV-1a: the name index hashes a short word per shell word; SipHash's setup cost showed in
/// profiles, and the keys are a fixed table, not attacker-chosen.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// What a program or verb name (ASCII lower case, `.exe` dropped) stands for.
#[derive(Default)]
struct Named {
    /// Rows of `Table::built` for this program.
    rows: Vec<usize>,
    /// One of [`SET_VERBS`].
    set_verb: bool,
    /// One of [`WRITERS`].
    writer: bool,
}

/// The built table, the name index and the prefilter.
struct Table {
    built: Vec<Built>,
    by_name: HashMap<&'static [u8], Named, FnvBuild>,
    /// For each first byte (ASCII lower case) of a program or verb name, bit `n` is set when
    /// some such name is `n` bytes long as written in a command (with or without `.exe`): any
    /// other word is not looked up. Every shell word is checked, most of them not names.
    first_and_len: [u64; 256],
    /// For each last byte (ASCII lower case) of a name as written in a command, bit `n` is
    /// set when some such name is `n` bytes long: with `first_and_len`, what a word's base
    /// name or a run of name bytes must pass before it is looked up. A word's last byte is
    /// its base name's, so a word whose last byte ends no name is passed over before its base
    /// name is looked for.
    last_and_len: [u64; 256],
}

impl Table {
    /// What `base` (a base name or a run of name bytes) names, with its name in ASCII lower
    /// case without `.exe` (written into `buf`). Most words are no name: the first-byte,
    /// last-byte and length masks turn them away before the copy and the lookup. Inlined
    /// into both callers: it runs for most words, and as a call it cost 1 % of secret-dense
    /// redaction.
    #[inline(always)]
    fn named<'b>(&self, base: &[u8], buf: &'b mut [u8; 32]) -> Option<(&'b [u8], &Named)> {
        let (&first, &last) = (base.first()?, base.last()?);
        let len = 1u64.checked_shl(u32::try_from(base.len()).ok()?)?;
        if self.first_and_len[usize::from(first.to_ascii_lowercase())]
            & self.last_and_len[usize::from(last.to_ascii_lowercase())]
            & len
            == 0
        {
            return None;
        }
        let name = lower_name(base, buf)?;
        Some((name, self.by_name.get(name)?))
    }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> Table {
    let declared = crate::policy::declared_programs();
    let mut built = Vec::new();
    let mut by_name: HashMap<&'static [u8], Named, FnvBuild> = HashMap::default();
    let mut names: Vec<&'static str> = Vec::new();
    for client in table::clients() {
        let grammar = match client.grammar {
            Source::Own(text) => Grammar::new(text).ok(),
            Source::Declared(name) => declared
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, g)| (*g).clone()),
        };
        // A row whose grammar does not build is skipped (a unit test keeps every row valid).
        let Some(grammar) = grammar else { continue };
        let secrets = client
            .secrets
            .iter()
            .filter_map(|(name, shape)| grammar.find(name).map(|id| (id, *shape)))
            .collect();
        for name in client.names {
            by_name
                .entry(name.as_bytes())
                .or_default()
                .rows
                .push(built.len());
            names.push(name);
        }
        built.push(Built {
            client,
            grammar,
            secrets,
        });
    }
    for verb in SET_VERBS {
        by_name.entry(verb.as_bytes()).or_default().set_verb = true;
    }
    for writer in WRITERS {
        by_name.entry(writer.as_bytes()).or_default().writer = true;
    }
    for reader in STDIN_READERS {
        by_name.entry(reader.as_bytes()).or_default();
    }
    names.extend(SET_VERBS);
    names.extend(WRITERS);
    names.extend(STDIN_READERS);
    let mut first_and_len = [0u64; 256];
    let mut last_and_len = [0u64; 256];
    for name in &names {
        if let Some(&b) = name.as_bytes().last() {
            if name.len() < 64 {
                last_and_len[usize::from(b.to_ascii_lowercase())] |= 1 << name.len();
            }
            if name.len() + ".exe".len() < 64 {
                last_and_len[usize::from(b'e')] |= 1 << (name.len() + ".exe".len());
            }
        }
        if let Some(&b) = name.as_bytes().first() {
            for len in [name.len(), name.len() + ".exe".len()] {
                if len < 64 {
                    first_and_len[usize::from(b.to_ascii_lowercase())] |= 1 << len;
                }
            }
        }
    }
    debug_assert!(
        names
            .iter()
            .all(|n| n.bytes().all(|b| NAME_BYTES[usize::from(b)])),
        "a name with a byte outside NAME_BYTES"
    );
    Table {
        built,
        by_name,
        first_and_len,
        last_and_len,
    }
}

/// The rule.
pub(crate) struct CommandLineRule;

impl Rule for CommandLineRule {
    fn hints(&self) -> &'static [&'static str] {
        HINTS
    }

    fn reads_quotes(&self) -> bool {
        true
    }

    // No gate: `secrets` runs the same name search first and finds nothing without a name,
    // so a gate would only search every text that has one twice.

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        next_span(state, from, || secrets(text))
    }
}

/// Every secret span in `text`, sorted and without overlaps. Only the logical lines that name
/// a program or verb of the table are read as commands.
fn secrets(text: &str) -> Vec<Span> {
    secrets_in_windows(text, WINDOW)
}

/// [`secrets`], with long commands read in windows of `window` words.
fn secrets_in_windows(text: &str, window: usize) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut covered = 0;
    // A quoted part whose bytes hold no name, no quote and no backslash (so that every word
    // in it is a stretch of its bytes) has no word that is a name: reading it finds nothing.
    let worth = |part: &str| {
        memchr::memchr3(b'\\', b'\'', b'"', part.as_bytes()).is_some()
            || next_name(part.as_bytes(), 0).is_some()
    };
    // Once a name's logical line is read, the search for names resumes after it: the names
    // inside it are read already (a dense log line names several).
    while covered < text.len() {
        let Some(m) = next_name(bytes, covered) else {
            break;
        };
        let start = logical_line_start(bytes, m.start).max(covered);
        let end = logical_line_end(bytes, m.end);
        let reading = Reading {
            worth: &worth,
            whole: &whole,
            target: &secret_file,
            window,
            lookahead: LOOKAHEAD,
        };
        words::for_each_command_in(text, start..end, &reading, &mut |cmd, next| {
            in_command(cmd, next, &mut found);
        });
        covered = end;
    }
    found.sort_by_key(|s| (s.range.start, std::cmp::Reverse(s.range.end)));
    // Overlapping spans are joined in place: `kept` spans are final, the rest are to read.
    let mut kept = 0;
    for i in 0..found.len() {
        if kept > 0 && found[i].range.start < found[kept - 1].range.end {
            let next = found[i].clone();
            found[kept - 1].absorb(&next);
        } else {
            found.swap(kept, i);
            kept += 1;
        }
    }
    found.truncate(kept);
    found
}

/// The last path component of a word. This runs for every word of every command: a short
/// word is searched a byte at a time, which costs less than setting up a vector search.
fn base_name(word: &str) -> &str {
    let bytes = word.as_bytes();
    let slash = if bytes.len() <= 16 {
        bytes.iter().rposition(|&b| b == b'/' || b == b'\\')
    } else {
        memchr::memrchr2(b'/', b'\\', bytes)
    };
    match slash {
        Some(i) => &word[i + 1..],
        None => word,
    }
}

/// The program name of a word: its last path component, ASCII lower case, without `.exe`,
/// written into `buf` (`None` when longer than the buffer: no client has such a name).
fn program_name<'b>(word: &str, buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    lower_name(base_name(word).as_bytes(), buf)
}

/// `base` in ASCII lower case without `.exe`, written into `buf` (see [`program_name`]).
fn lower_name<'b>(base: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    let len = base.len();
    if len > buf.len() {
        return None;
    }
    let name = &mut buf[..len];
    // A byte loop: a call to copy a few bytes cost more than the copy.
    for (to, from) in name.iter_mut().zip(base) {
        *to = from.to_ascii_lowercase();
    }
    let name: &[u8] = name;
    Some(name.strip_suffix(b".exe").unwrap_or(name))
}

/// Whether a command that starts with `first` is read whole: the writer form reads every
/// word of an `echo` or `printf` command, and of a `tee` one it writes into.
fn whole(first: &str) -> bool {
    let mut buf = [0u8; 32];
    let base = base_name(first).as_bytes();
    lower_name(base, &mut buf) == Some(b"tee")
        || table()
            .named(base, &mut buf)
            .is_some_and(|(_, named)| named.writer)
}

/// The secrets of the names among `cmd`'s words (`cmd.words[..cmd.names]`), each read with at
/// most [`LOOKAHEAD`] words after it.
fn in_command(cmd: &Command, next: Option<&Command>, found: &mut Vec<Span>) {
    let t = table();
    let words = &cmd.words;
    let mut buf = [0u8; 32];
    // `sudo -S cmd <<< SECRET`: a here-string into a command that reads a secret on stdin,
    // or into `cat` piped into one (`cat <<< SECRET | sudo -S cmd`, as `echo SECRET | …`;
    // another program would pass on what it makes of its input, not the word).
    if let Some(here) = &cmd.here
        && !cmd.continued
        && (reads_secret_on_stdin(cmd)
            || cmd.next == words::Next::Pipe
                && next.is_some_and(reads_secret_on_stdin)
                && words.first().is_some_and(|w| {
                    program_name(&w.text, &mut [0u8; 32]) == Some(b"cat".as_slice())
                }))
    {
        push_from(here, 0, found);
    }
    for (p, word) in words[..cmd.names].iter().enumerate() {
        if word
            .text
            .as_bytes()
            .last()
            .is_none_or(|&b| t.last_and_len[usize::from(b.to_ascii_lowercase())] == 0)
        {
            continue;
        }
        let Some((name, named)) = t.named(base_name(&word.text).as_bytes(), &mut buf) else {
            continue;
        };
        if named.set_verb {
            set_form(&words[p + 1..], found);
        }
        if named.writer && p == 0 && !cmd.continued {
            writer(cmd, next, name == b"printf", found);
        }
        for &row in &named.rows {
            let built = &t.built[row];
            let Some(args) = after_subcommand(&words[p + 1..], built.client.sub) else {
                continue;
            };
            let args = &args[..args.len().min(MAX_ARGS)];
            client(built, args, found);
        }
    }
}

/// The words after the subcommand `sub`, found among the first few words after the program's
/// options: every word before it is an option (`-h`, `--tls`) or may be the value of the
/// option right before it (`-h cache`). An operand ends the search, so `redis-cli GET auth x`
/// reads `auth` as the key it is, not as the `AUTH` command.
fn after_subcommand<'w, 't>(args: &'w [Word<'t>], sub: &[&str]) -> Option<&'w [Word<'t>]> {
    let Some(first) = sub.first() else {
        return Some(args);
    };
    let takes_value = |w: &Word| w.text.starts_with('-') && !w.text.contains('=');
    let start = args
        .iter()
        .take(SUBCOMMAND_SEARCH)
        .enumerate()
        .take_while(|&(i, w)| {
            w.text.starts_with('-')
                || w.text.eq_ignore_ascii_case(first)
                || i.checked_sub(1)
                    .and_then(|before| args.get(before))
                    .is_some_and(takes_value)
        })
        .position(|(_, w)| w.text.eq_ignore_ascii_case(first))?;
    let rest = &args[start..];
    let matches = sub
        .iter()
        .enumerate()
        .all(|(i, s)| rest.get(i).is_some_and(|w| w.text.eq_ignore_ascii_case(s)));
    matches.then(|| &rest[sub.len()..])
}

/// Whether a value is a reference or a prompt rather than a secret: `$VAR`, `${VAR}`, `$(…)`,
/// `-`, `*`, `<placeholder>`, `***`, and a file named by URL (`file://creds.json`, the AWS
/// CLI's `fileb://`).
fn is_reference(value: &str) -> bool {
    value.is_empty()
        || value.starts_with("file://")
        || value.starts_with("fileb://")
        || value == "-"
        || value.bytes().all(|b| b == b'*')
        || (value.starts_with('<') && value.ends_with('>'))
        || value.strip_prefix('$').is_some_and(|rest| {
            rest.starts_with(['{', '('])
                || (!rest.is_empty()
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        })
}

/// Records `word.text[start..]` as a secret unless it is a reference.
fn push_from(word: &Word, start: usize, found: &mut Vec<Span>) {
    push_part(word, start, word.text.len(), found);
}

thread_local! {
    /// The last parse's result, whose list the next parse reuses.
    static PARSED: std::cell::Cell<Parsed> = std::cell::Cell::new(Parsed::default());
}

fn client(built: &Built, args: &[Word], found: &mut Vec<Span>) {
    let parsed = built.grammar.parse_reusing(args, PARSED.take());
    client_parsed(built, args, &parsed, found);
    PARSED.set(parsed);
}

/// The secrets of one parsed command of a client.
fn client_parsed(built: &Built, args: &[Word], parsed: &Parsed, found: &mut Vec<Span>) {
    for item in &parsed.items {
        let Item::Opt {
            id, value: Some(v), ..
        } = item
        else {
            continue;
        };
        let Some((_, shape)) = built.secrets.iter().find(|(s, _)| s == id) else {
            continue;
        };
        let Some(word) = args.get(v.at) else { continue };
        let value = v.text(args);
        let start = match shape {
            Shape::Whole => Some(v.start),
            Shape::AfterColon => value.find(':').map(|i| v.start + i + 1),
            Shape::AfterPercent => value.find('%').map(|i| v.start + i + 1),
            Shape::AfterEquals => value.find('=').map(|i| v.start + i + 1),
            Shape::CookieHeader => value
                .get(..7)
                .filter(|name| name.eq_ignore_ascii_case("cookie:"))
                .and_then(|_| value.find('='))
                .map(|i| v.start + i + 1),
        };
        if let Some(start) = start {
            push_from(word, start, found);
        }
    }
    match built.client.positional {
        Positional::No => {}
        Positional::Operand(n, no_assignments) => {
            if let Some(word) = parsed.operands().nth(n).and_then(|i| args.get(i))
                && !(no_assignments && word.text.contains('='))
            {
                push_from(word, 0, found);
            }
        }
        Positional::KeyValue => {
            let mut operands = parsed.operands().filter_map(|i| args.get(i));
            if let (Some(key), Some(value)) = (operands.next(), operands.next())
                && !key.text.contains('=')
                && forms::names_secret(&key.text)
            {
                push_from(value, 0, found);
            }
        }
        Positional::LastOf(n) => {
            if let Some(word) = parsed.operands().take(n).last().and_then(|i| args.get(i)) {
                push_from(word, 0, found);
            }
        }
        Positional::HtpasswdBatch => {
            let has = |tag: char| {
                parsed.items.iter().any(
                    |i| matches!(i, Item::Opt { id, .. } if built.grammar.tags(*id).contains(tag)),
                )
            };
            let batch = has('b');
            let no_file = parsed.items.iter().any(|i| {
                matches!(i, Item::Opt { id, .. } if built.grammar.info(*id).is_some_and(|o| o.names.contains(&"-n")))
            });
            let index = if no_file { 1 } else { 2 };
            if batch && let Some(word) = parsed.operands().nth(index).and_then(|i| args.get(i)) {
                push_from(word, 0, found);
            }
        }
        Positional::Net => net(args, found),
        Positional::OracleLogon => oracle_logons(args, found),
        Positional::Prefixed(prefix) => {
            for word in args {
                if word.text.starts_with(prefix) {
                    push_from(word, prefix.len(), found);
                }
            }
        }
        Positional::FromLiteral => {
            for (i, word) in args.iter().enumerate() {
                let (word, start) = if let Some(rest) = word.text.strip_prefix("--from-literal=") {
                    (word, word.text.len() - rest.len())
                } else if word.text == "--from-literal"
                    && let Some(next) = args.get(i + 1)
                {
                    (next, 0)
                } else {
                    continue;
                };
                if let Some(eq) = word.text[start..].find('=') {
                    push_from(word, start + eq + 1, found);
                }
            }
        }
        Positional::Slash(switches) => {
            for (i, word) in args.iter().enumerate() {
                let lower = word.text.to_ascii_lowercase();
                for (name, attached) in switches {
                    if *attached {
                        if lower.starts_with(name) {
                            push_from(word, name.len(), found);
                        }
                    } else if lower == *name
                        && let Some(next) = args.get(i + 1)
                    {
                        push_from(next, 0, found);
                    }
                }
            }
        }
    }
}

/// Records `word.text[start..end]` as a secret unless it is a reference.
fn push_part(word: &Word, start: usize, end: usize, found: &mut Vec<Span>) {
    let Some(value) = word.text.get(start..end) else {
        return;
    };
    if is_reference(value) {
        return;
    }
    if let Some(span) = word.source(start, end) {
        found.push(span);
    }
}

#[cfg(test)]
mod tests;
