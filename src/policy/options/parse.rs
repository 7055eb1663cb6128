//! The parser: getopt / getopt_long / getopt_long_only, iproute2, Go `flag` and single-dash
//! conventions over one argument vector. Linear in the words (each long name lookup scans the
//! grammar's long names once).

use super::{Arity, Dash, Grammar, Item, OptId, Parsed, Value};

/// What a long name lookup found.
enum Long {
    Found(OptId, Arity),
    Ambiguous(Vec<OptId>),
    None,
}

impl Grammar {
    /// The short option `c` (its first declaration).
    pub(super) fn short(&self, c: char) -> Option<(OptId, Arity)> {
        let found = match self.short_index.get(c as usize) {
            Some(&i) if i != u16::MAX => self.shorts.get(usize::from(i).checked_sub(1)?),
            _ => self.shorts.iter().find(|s| s.0 == c),
        };
        found.map(|s| (s.1, s.2))
    }

    /// Exact name first; then, when abbreviation is on, a unique prefix (several names of one
    /// option count once, as in glibc).
    fn long(&self, name: &str, abbreviate: bool) -> Long {
        if let Some(l) = self.longs.iter().find(|l| l.name == name) {
            return Long::Found(l.id, l.arity);
        }
        if !abbreviate || name.is_empty() {
            return Long::None;
        }
        let mut first: Option<(OptId, Arity)> = None;
        let mut all: Vec<OptId> = Vec::new();
        for l in self.longs.iter().filter(|l| l.name.starts_with(name)) {
            if first.is_none() {
                first = Some((l.id, l.arity));
            }
            if !all.contains(&l.id) {
                all.push(l.id);
            }
        }
        match (first, all.len()) {
            (Some((id, arity)), 1) => Long::Found(id, arity),
            (Some(_), _) => Long::Ambiguous(all),
            (None, _) => Long::None,
        }
    }

    /// iproute2's `matches()`: the first declared long name the word is a prefix of.
    fn first_match(&self, name: &str) -> Long {
        if name.is_empty() {
            return Long::None;
        }
        match self.longs.iter().find(|l| l.name.starts_with(name)) {
            Some(l) => Long::Found(l.id, l.arity),
            None => Long::None,
        }
    }
}

struct Parser<'g, 'a, S> {
    g: &'g Grammar,
    args: &'a [S],
    items: Vec<Item>,
    /// Index of the next word to read.
    i: usize,
}

pub(super) fn parse<S: AsRef<str>>(g: &Grammar, args: &[S], old_style: bool) -> Parsed {
    parse_into(g, args, old_style, Vec::with_capacity(args.len()))
}

/// [`parse`] into `items` (emptied first): a caller that parses often reuses one list.
pub(super) fn parse_into<S: AsRef<str>>(
    g: &Grammar,
    args: &[S],
    old_style: bool,
    mut items: Vec<Item>,
) -> Parsed {
    items.clear();
    let mut p = Parser {
        g,
        args,
        items,
        i: 0,
    };
    if old_style {
        p.old_style_first_word();
    }
    let mut options_done = false;
    while p.i < args.len() {
        let at = p.i;
        let w = args[at].as_ref();
        p.i += 1;
        if options_done || g.raw {
            p.items.push(Item::Operand { at });
            continue;
        }
        if w == "--" {
            p.items.push(Item::EndOfOptions { at });
            options_done = true;
            continue;
        }
        if w.len() < 2 || !w.starts_with('-') {
            p.items.push(Item::Operand { at });
            options_done = !g.permute;
            continue;
        }
        p.option_word(at, w);
    }
    Parsed { items: p.items }
}

impl<S: AsRef<str>> Parser<'_, '_, S> {
    /// tar's old style: the first word's letters are options; values come from the next words.
    fn old_style_first_word(&mut self) {
        let Some(first) = self.args.first().map(AsRef::as_ref) else {
            return;
        };
        if first.is_empty() || first.starts_with('-') {
            return;
        }
        self.i = 1;
        for (offset, c) in first.char_indices() {
            match self.g.short(c) {
                None => self.items.push(Item::Unknown { at: 0, offset }),
                Some((id, Arity::Required)) => {
                    if self.i < self.args.len() {
                        let value = Some(Value {
                            at: self.i,
                            start: 0,
                        });
                        self.items.push(Item::Opt { id, at: 0, value });
                        self.i += 1;
                    } else {
                        self.items.push(Item::MissingValue { id, at: 0 });
                    }
                }
                Some((id, _)) => self.items.push(Item::Opt {
                    id,
                    at: 0,
                    value: None,
                }),
            }
        }
    }

    /// Take the next word as a value of `id`, or record that it is missing.
    fn separate_value(&mut self, id: OptId, at: usize) {
        if self.i < self.args.len() {
            let value = Some(Value {
                at: self.i,
                start: 0,
            });
            self.items.push(Item::Opt { id, at, value });
            self.i += 1;
        } else {
            self.items.push(Item::MissingValue { id, at });
        }
    }

    /// A long option found in word `at`: `name_end` is where its name ends in the word (an
    /// `=` there attaches a value).
    fn long_found(&mut self, id: OptId, arity: Arity, at: usize, w: &str, name_end: usize) {
        let attached = w
            .as_bytes()
            .get(name_end)
            .is_some_and(|b| *b == b'=')
            .then_some(Value {
                at,
                start: name_end + 1,
            });
        match (arity, attached) {
            (_, Some(v)) if arity != Arity::Flag || self.g.dash == Dash::Go => {
                self.items.push(Item::Opt {
                    id,
                    at,
                    value: Some(v),
                });
            }
            (Arity::Flag, Some(_)) => self.items.push(Item::UnexpectedValue { id, at }),
            (Arity::Required, None) => self.separate_value(id, at),
            (_, _) => self.items.push(Item::Opt {
                id,
                at,
                value: None,
            }),
        }
    }

    /// Look up the long name in `w[start..]` (up to an `=`) and record what it is.
    fn long_word(&mut self, at: usize, w: &str, start: usize, how: Dash) -> bool {
        let rest = &w[start..];
        let name_len = rest.find('=').unwrap_or(rest.len());
        let name = &rest[..name_len];
        let found = match how {
            Dash::FirstMatch => self.g.first_match(name),
            Dash::Go | Dash::Single => self.g.long(name, false),
            Dash::Bundle | Dash::LongOnly => self.g.long(name, self.g.abbreviate),
        };
        match found {
            Long::Found(id, arity) => {
                self.long_found(id, arity, at, w, start + name_len);
                true
            }
            Long::Ambiguous(candidates) => {
                self.items.push(Item::Ambiguous { at, candidates });
                true
            }
            Long::None => {
                let Some(positive) = name.strip_prefix("no-").filter(|_| self.g.negatable) else {
                    return false;
                };
                match self.g.long(positive, self.g.abbreviate) {
                    Long::Found(id, _) => {
                        self.items.push(Item::Negated { id, at });
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    fn option_word(&mut self, at: usize, w: &str) {
        let dash = self.g.dash;
        if w.starts_with("--") {
            if !self.long_word(at, w, 2, dash) {
                self.items.push(Item::Unknown { at, offset: 2 });
            }
            return;
        }
        match dash {
            Dash::Bundle => self.bundle(at, w),
            Dash::LongOnly => {
                let one_short = w.chars().count() == 2
                    && w.chars().nth(1).is_some_and(|c| self.g.short(c).is_some());
                if one_short || !self.long_word(at, w, 1, Dash::LongOnly) {
                    self.bundle(at, w);
                }
            }
            Dash::FirstMatch | Dash::Go | Dash::Single => {
                // A declared one-letter name (`-4`, `-H`) is exact.
                let mut chars = w[1..].chars();
                if let (Some(c), None) = (chars.next(), chars.next())
                    && let Some((id, arity)) = self.g.short(c)
                {
                    match arity {
                        Arity::Required => self.separate_value(id, at),
                        _ => self.items.push(Item::Opt {
                            id,
                            at,
                            value: None,
                        }),
                    }
                    return;
                }
                let taken = dash == Dash::FirstMatch && self.digits(at, w);
                if !taken && !self.long_word(at, w, 1, dash) {
                    self.items.push(Item::Unknown { at, offset: 1 });
                }
            }
        }
    }

    /// `-NUM` for programs that declare `-#`. True when the word was taken.
    fn digits(&mut self, at: usize, w: &str) -> bool {
        let Some((id, _)) = self.g.digits else {
            return false;
        };
        let run = w[1..].bytes().take_while(u8::is_ascii_digit).count();
        if run == 0 {
            return false;
        }
        self.items.push(Item::Opt {
            id,
            at,
            value: Some(Value { at, start: 1 }),
        });
        true
    }

    /// A getopt bundle: `-abc`, `-ovalue`, `-5`.
    fn bundle(&mut self, at: usize, w: &str) {
        let mut pos = 1;
        if let Some((id, _)) = self.g.digits {
            let run = w[1..].bytes().take_while(u8::is_ascii_digit).count();
            if run > 0 {
                self.items.push(Item::Opt {
                    id,
                    at,
                    value: Some(Value { at, start: 1 }),
                });
                pos += run;
            }
        }
        while let Some(c) = w[pos..].chars().next() {
            let after = pos + c.len_utf8();
            match self.g.short(c) {
                None => self.items.push(Item::Unknown { at, offset: pos }),
                Some((id, Arity::Flag)) => self.items.push(Item::Opt {
                    id,
                    at,
                    value: None,
                }),
                Some((id, arity)) => {
                    if after < w.len() {
                        let value = Some(Value { at, start: after });
                        self.items.push(Item::Opt { id, at, value });
                    } else if arity == Arity::Required {
                        self.separate_value(id, at);
                    } else {
                        self.items.push(Item::Opt {
                            id,
                            at,
                            value: None,
                        });
                    }
                    return;
                }
            }
            pos = after;
        }
    }
}
