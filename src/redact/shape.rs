//! Token shapes: the provider patterns that are a fixed prefix and a run of one character
//! class (`(?-u:\b)gh[pousr]_[A-Za-z0-9]{20,}`, `(?-u:\b)AKIA[0-9A-Z]{16}(?-u:\b)`), matched
//! by hand. The regex engine's work per search (its cache, a forward scan for the end and a
//! reverse scan for the start) cost about a thousand instructions per search on a line with a
//! token; this costs a substring search and a pass over the token.
//!
//! [`Shape::parse`] accepts only patterns whose leftmost-first match it can state exactly; any
//! other pattern stays with the regex engine. Debug builds compare every search with the
//! pattern, and a unit test does on generated texts.

use std::ops::Range;

/// A pattern of the form `(?-u:\b)? FIXED CLASS{min,max} (?-u:\b)?`, where `FIXED` is a
/// sequence of single bytes or byte sets (no quantifier) that starts with a literal, and
/// every byte set is of ASCII bytes.
pub(crate) struct Shape {
    /// The literal bytes `FIXED` starts with: the substring searched for.
    lead: Vec<u8>,
    /// The sets of the rest of `FIXED`, one byte each.
    rest: Vec<[bool; 256]>,
    /// The run's class.
    class: [bool; 256],
    /// Fewest and most bytes of the run.
    min: usize,
    max: Option<usize>,
    /// A word boundary before the match (the lead starts with a word byte, so: no word byte
    /// before it).
    boundary_before: bool,
    /// A word boundary after the run (the class holds only word bytes, so: no word byte after
    /// the greedy run; fewer repetitions cannot help, a class byte being a word byte).
    boundary_after: bool,
    /// The lead's substring searcher.
    finder: memchr::memmem::Finder<'static>,
}

/// ASCII word bytes, as `(?-u:\b)` reads them.
const WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

const BOUNDARY: &str = r"(?-u:\b)";

impl Shape {
    /// The shape of `pattern`, or `None` when it is not of that form (it then stays a regex).
    pub(crate) fn parse(pattern: &str) -> Option<Shape> {
        let mut p = pattern.as_bytes();
        let boundary_before = match p.strip_prefix(BOUNDARY.as_bytes()) {
            Some(rest) => {
                p = rest;
                true
            }
            None => false,
        };
        let boundary_after = match p.strip_suffix(BOUNDARY.as_bytes()) {
            Some(rest) => {
                p = rest;
                true
            }
            None => false,
        };
        let mut atoms: Vec<[bool; 256]> = Vec::new();
        let mut lead: Vec<u8> = Vec::new();
        let (class, min, max) = loop {
            let (set, single, after) = atom(p)?;
            p = after;
            if let Some(quantified) = p.strip_prefix(b"{") {
                let close = quantified.iter().position(|&b| b == b'}')?;
                if close + 1 != quantified.len() {
                    return None;
                }
                let (min, max) = repetition(&quantified[..close])?;
                break (set, min, max);
            }
            match single {
                Some(b) if atoms.is_empty() => lead.push(b),
                _ => atoms.push(set),
            }
        };
        if lead.is_empty() || min == 0 {
            return None;
        }
        if boundary_before && !WORD[usize::from(lead[0])] {
            return None;
        }
        if boundary_after && !class.iter().enumerate().all(|(b, &c)| !c || WORD[b]) {
            return None;
        }
        // Linear time: a start whose run is long enough matches, so a run is read again from
        // a later start only when it was shorter than `min`, or when the boundary after it
        // failed — which a bound on the run keeps short too.
        if boundary_after && max.is_none() {
            return None;
        }
        let finder = memchr::memmem::Finder::new(&lead).into_owned();
        Some(Shape {
            lead,
            rest: atoms,
            class,
            min,
            max,
            boundary_before,
            boundary_after,
            finder,
        })
    }

    /// The leftmost match starting at or after `from`: the first start where the pattern
    /// matches, with the run as long as it goes (greedy, up to `max`).
    pub(crate) fn find_at(&self, text: &str, from: usize) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        let mut at = from;
        while let Some(i) = bytes.get(at..).and_then(|rest| self.finder.find(rest)) {
            let start = at + i;
            at = start + 1;
            if self.boundary_before && start > 0 && WORD[usize::from(bytes[start - 1])] {
                continue;
            }
            let fixed_end = start + self.lead.len() + self.rest.len();
            // A fixed part that runs past the end leaves no room for any later start either.
            let fixed = bytes.get(start + self.lead.len()..fixed_end)?;
            if !fixed
                .iter()
                .zip(&self.rest)
                .all(|(&b, set)| set[usize::from(b)])
            {
                continue;
            }
            let limit = self
                .max
                .map_or(bytes.len(), |m| (fixed_end + m).min(bytes.len()));
            let run = bytes[fixed_end..limit]
                .iter()
                .position(|&b| !self.class[usize::from(b)])
                .unwrap_or(limit - fixed_end);
            if run < self.min {
                continue;
            }
            let end = fixed_end + run;
            if self.boundary_after && bytes.get(end).is_some_and(|&b| WORD[usize::from(b)]) {
                continue;
            }
            return Some(start..end);
        }
        None
    }
}

/// One atom at the start of `p`: its byte set, the byte when it is a single one, and the
/// rest of `p`. Literal bytes are ASCII letters, digits, `_`, `-` and `\.`; a class is `[…]`
/// of such bytes and ranges of them, not negated.
fn atom(p: &[u8]) -> Option<([bool; 256], Option<u8>, &[u8])> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut set = [false; 256];
    match *p.first()? {
        b'\\' => {
            let b = *p.get(1)?;
            if b != b'.' {
                return None;
            }
            set[usize::from(b)] = true;
            Some((set, Some(b), &p[2..]))
        }
        b'[' => {
            let close = p.iter().position(|&b| b == b']')?;
            let mut inside = &p[1..close];
            if inside.first() == Some(&b'^') {
                return None;
            }
            while let Some(&first) = inside.first() {
                // `\-` is a literal dash; `a-z` a range; a `-` last is literal.
                let (low, rest) = match first {
                    b'\\' => (*inside.get(1).filter(|&&b| b == b'-')?, &inside[2..]),
                    b if plain(b) || b == b'+' || b == b'/' || b == b'.' => (b, &inside[1..]),
                    _ => return None,
                };
                if rest.len() >= 2 && rest[0] == b'-' && plain(rest[1]) && first != b'\\' {
                    let high = rest[1];
                    if high < low {
                        return None;
                    }
                    for b in low..=high {
                        set[usize::from(b)] = true;
                    }
                    inside = &rest[2..];
                } else {
                    set[usize::from(low)] = true;
                    inside = rest;
                }
            }
            Some((set, None, &p[close + 1..]))
        }
        b if plain(b) => {
            set[usize::from(b)] = true;
            Some((set, Some(b), &p[1..]))
        }
        _ => None,
    }
}

/// `n`, `n,` or `n,m`: the fewest and most repetitions.
fn repetition(q: &[u8]) -> Option<(usize, Option<usize>)> {
    let text = std::str::from_utf8(q).ok()?;
    match text.split_once(',') {
        None => {
            let n = text.parse().ok()?;
            Some((n, Some(n)))
        }
        Some((min, "")) => Some((min.parse().ok()?, None)),
        Some((min, max)) => {
            let (min, max) = (min.parse().ok()?, max.parse().ok()?);
            (min <= max).then_some((min, Some(max)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::generated_texts;

    #[test]
    fn parses_only_what_it_can_match() {
        for pattern in [
            r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{20,}",
            r"(?-u:\b)AKIA[0-9A-Z]{16}(?-u:\b)",
            r"(?-u:\b)ya29\.[A-Za-z0-9._\-]{20,}",
            r"(?-u:\b)xoxe-[0-9]-[A-Za-z0-9]{20,}",
            r"hf_[A-Za-z0-9]{2,5}",
        ] {
            assert!(Shape::parse(pattern).is_some(), "{pattern}");
        }
        for pattern in [
            r"(?-u:\b)gith(?:ub)?_pat_[A-Za-z0-9_]+",
            r"(?-u:\b)(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,}",
            r"(?-u:\b)ABSK[A-Za-z0-9+/]{109,269}={0,2}",
            r"(?i)(?-u:\b)xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+",
            r"(?-u:\b)[a-z]x[0-9]{3,}",
            r"(?-u:\b)ab[^0-9]{3,}",
            r"(?-u:\b)ab[0-9]{0,}",
            r"(?-u:\b)ab[0-9.]{3,}(?-u:\b)",
            r"(?-u:\b)-ab[0-9]{3,}",
            r"ab[0-9]{3,}x",
            r"ab[0-9]{5,3}",
            r"(?-u:\b)ab[0-9]{3,}(?-u:\b)",
        ] {
            assert!(Shape::parse(pattern).is_none(), "{pattern}");
        }
    }

    /// Each shape against its pattern at every start of generated texts made of its own
    /// pieces: prefixes whole and cut short, class and non-class bytes, word and non-word
    /// bytes around them, non-ASCII.
    #[test]
    fn finds_what_the_pattern_finds() {
        let cases: &[(&str, &[&str])] = &[
            (
                r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{4,}",
                &[
                    "ghp_", "ghx_", "gh", "g", "a", "Z", "9", "_", "-", " ", "é", "ghs_a",
                ],
            ),
            (
                r"(?-u:\b)AKIA[0-9A-Z]{4}(?-u:\b)",
                &["AKIA", "AKI", "A", "7", "a", "_", " ", ".", "é", "AKIAAKIA"],
            ),
            (
                r"(?-u:\b)ya29\.[A-Za-z0-9._\-]{3,}",
                &["ya29.", "ya29", "ya29x", ".", "-", "a", " ", "/", "é"],
            ),
            (
                r"(?-u:\b)xoxe-[0-9]-[A-Za-z0-9]{3,6}",
                &["xoxe-", "xoxe-1-", "1", "-", "a", " ", "_", "xoxe-x-"],
            ),
            (
                r"hf_[A-Za-z0-9]{2,3}",
                &["hf_", "hf", "a", "_", " ", "hhf_"],
            ),
        ];
        let mut matches = 0;
        for (i, (pattern, pieces)) in cases.iter().enumerate() {
            let shape = Shape::parse(pattern).expect("a shape");
            let regex = crate::redact::scan::compile(pattern);
            let seed = 0x5348_4150 + u64::try_from(i).unwrap_or(0);
            for text in generated_texts(pieces, 9, 4_000, seed) {
                for from in (0..=text.len()).filter(|&f| text.is_char_boundary(f)) {
                    let expected = regex.find_at(&text, from).map(|m| m.range());
                    matches += usize::from(expected.is_some());
                    assert_eq!(
                        shape.find_at(&text, from),
                        expected,
                        "{pattern} in {text:?} from {from}"
                    );
                }
            }
        }
        assert!(matches > 10_000, "only {matches} matches");
    }
}
