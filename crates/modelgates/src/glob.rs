//! Mux-rule globs with a bounded matching cost.
//!
//! A glob keeps `globset`'s syntax and meaning (with `literal_separator` and
//! `backslash_escape`; `globset` still validates it and reports syntax errors), but is matched
//! here: its `{a,b}` groups are expanded into at most [`ALTERNATIVES_MAX`] alternatives of at
//! most [`TOKENS_MAX`] tokens, each matched by a bit-parallel NFA simulation over the path's
//! bytes: one `u64` of state and a few word operations per byte, no allocation, no cache. A
//! match costs O(path length) whatever the pattern, and memory never grows with use. (The
//! DFA `globset` compiles can need states exponential in the pattern: 500 rules of
//! `*a????????????????????` made 6.5 GiB of per-thread regex caches and 24 s per resolve.)
//! The property test `matches_exactly_like_globset` checks the two matchers agree.

/// Most alternatives a glob may expand to (the product of its `{a,b}` groups' sizes).
pub const ALTERNATIVES_MAX: usize = 16;
/// Most alternatives the globs of one workspace's rules may expand to in all. Resolution runs
/// at most one automaton per alternative over each file name (~16 ns for a 10-byte path on
/// the benchmark machine), so this bounds a request for one ordinary file at ≤ 10 µs whatever
/// the rules: 512 plain globs, or 32 of 16 alternatives.
pub const RULE_SET_ALTERNATIVES_MAX: usize = 512;
/// Most tokens one alternative may have: a literal byte, `?`, `*` and a `[…]` class count one
/// each, `**/` and `/**` two or three.
pub const TOKENS_MAX: usize = 63;

/// One step of an alternative, over bytes (globset's regexes are byte-oriented: `?` is one
/// byte that is not `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// One byte.
    Lit(u8),
    /// One byte but `/` (`?`).
    Any,
    /// One byte of an ASCII class, or with `negated`, any byte not in it (`[a-z]`, `[!x]`).
    Class { negated: bool, set: u128 },
    /// Any run of bytes but `/` (`*`).
    Star,
    /// Any run of bytes (from `**`).
    Deep,
    /// The next three tokens (`Deep`, `/`) may be skipped together: `(.*/)?`.
    OptPair,
}

/// Why a glob cannot be compiled here (globset accepted it).
pub(crate) type Refusal = String;

/// Expands `{a,b}` groups into alternative pattern texts (escapes and classes kept as text).
fn expand(pattern: &str) -> Result<Vec<String>, Refusal> {
    let b = pattern.as_bytes();
    let mut alts = vec![String::new()];
    let mut i = 0;
    let mut lit_start = 0;
    let append = |alts: &mut Vec<String>, s: &str| -> Result<(), Refusal> {
        for a in alts.iter_mut() {
            join(a, s)?;
        }
        Ok(())
    };
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => i = class_end(b, i),
            b'{' => {
                append(&mut alts, &pattern[lit_start..i])?;
                let mut branches: Vec<String> = Vec::new();
                let mut start = i + 1;
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None => return Err("unclosed {".into()),
                        Some(b'\\') => j += 2,
                        Some(b'[') => j = class_end(b, j),
                        Some(b'{') => return Err("nested {…}".into()),
                        Some(&c @ (b',' | b'}')) => {
                            branches.push(pattern[start..j].to_owned());
                            j += 1;
                            start = j;
                            if c == b'}' {
                                break;
                            }
                        }
                        Some(_) => j += 1,
                    }
                }
                // globset drops empty branches; a group of only empty ones matches "".
                branches.retain(|br| !br.is_empty());
                if branches.is_empty() {
                    branches.push(String::new());
                }
                if alts.len() * branches.len() > ALTERNATIVES_MAX {
                    return Err(format!(
                        "its {{…}} groups expand to more than {ALTERNATIVES_MAX} alternatives"
                    ));
                }
                let mut next = Vec::with_capacity(alts.len() * branches.len());
                for a in &alts {
                    for br in &branches {
                        let mut x = a.clone();
                        join(&mut x, br)?;
                        next.push(x);
                    }
                }
                alts = next;
                i = j;
                lit_start = j;
            }
            _ => i += 1,
        }
    }
    append(&mut alts, &pattern[lit_start.min(b.len())..])?;
    Ok(alts)
}

/// Appends `text` to an alternative, refusing a `*` on both sides of a `{…}` boundary: glued
/// together they would read as `**`, which globset keeps as two separate `*`.
fn join(alt: &mut String, text: &str) -> Result<(), Refusal> {
    if alt.ends_with('*') && text.starts_with('*') {
        return Err(
            "a * on both sides of a {…} boundary is not supported; spell the \
                    alternatives out"
                .into(),
        );
    }
    alt.push_str(text);
    Ok(())
}

/// The index just past the `[…]` class starting at `b[at]` (a leading `]` is literal).
fn class_end(b: &[u8], at: usize) -> usize {
    let mut j = at + 1;
    if matches!(b.get(j), Some(b'!' | b'^')) {
        j += 1;
    }
    if b.get(j) == Some(&b']') {
        j += 1;
    }
    while j < b.len() && b[j] != b']' {
        j += 1;
    }
    j + 1
}

/// Recursive `**` tokens, as globset names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rec {
    /// `**/` at the start: `(.*/)?`.
    Prefix,
    /// `/**` at the end: `/.*`.
    Suffix,
    /// `/**/` inside: `/(.*/)?`.
    Middle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parsed {
    Tok(Tok),
    Rec(Rec),
}

/// Parses one brace-free alternative the way globset's parser does.
fn parse(alt: &str) -> Result<Vec<Tok>, Refusal> {
    let b = alt.as_bytes();
    let mut out: Vec<Parsed> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'\\' => {
                let escaped = *b.get(i).ok_or("a dangling \\ at the end")?;
                out.push(Parsed::Tok(Tok::Lit(escaped)));
                i += 1;
            }
            b'?' => out.push(Parsed::Tok(Tok::Any)),
            b'[' => {
                let end = class_end(b, i - 1);
                out.push(Parsed::Tok(class(&b[i..end - 1])?));
                i = end;
            }
            b'*' if b.get(i) != Some(&b'*') => out.push(Parsed::Tok(Tok::Star)),
            b'*' => {
                i += 1;
                let prev = (i >= 3).then(|| b[i - 3]);
                let next = b.get(i).copied();
                if out.is_empty() {
                    if next.is_none_or(|n| n == b'/') {
                        out.push(Parsed::Rec(Rec::Prefix));
                        i += usize::from(next.is_some());
                    } else {
                        out.push(Parsed::Tok(Tok::Star));
                    }
                } else if prev != Some(b'/') || next.is_some_and(|n| n != b'/') {
                    out.push(Parsed::Tok(Tok::Star));
                } else {
                    i += usize::from(next.is_some());
                    let rec = match out.pop() {
                        Some(Parsed::Rec(Rec::Prefix)) => Rec::Prefix,
                        Some(Parsed::Rec(Rec::Suffix)) => Rec::Suffix,
                        _ if next.is_none() => Rec::Suffix,
                        _ => Rec::Middle,
                    };
                    out.push(Parsed::Rec(rec));
                }
            }
            c => out.push(Parsed::Tok(Tok::Lit(c))),
        }
    }
    // globset: a glob that is only `**` matches everything.
    if out == [Parsed::Rec(Rec::Prefix)] {
        return Ok(vec![Tok::Deep]);
    }
    let mut toks = Vec::with_capacity(out.len() + 4);
    for p in out {
        match p {
            Parsed::Tok(t) => toks.push(t),
            Parsed::Rec(Rec::Prefix) => toks.extend([Tok::OptPair, Tok::Deep, Tok::Lit(b'/')]),
            Parsed::Rec(Rec::Suffix) => toks.extend([Tok::Lit(b'/'), Tok::Deep]),
            Parsed::Rec(Rec::Middle) => {
                toks.extend([Tok::Lit(b'/'), Tok::OptPair, Tok::Deep, Tok::Lit(b'/')]);
            }
        }
    }
    Ok(toks)
}

/// A `[…]` class from the text between the brackets.
fn class(body: &[u8]) -> Result<Tok, Refusal> {
    let (negated, body) = match body.first() {
        Some(b'!' | b'^') => (true, &body[1..]),
        _ => (false, body),
    };
    if !body.is_ascii() {
        return Err("a […] class with non-ASCII characters is not supported".into());
    }
    // globset's algorithm: a leading `]` or `-` is literal, `x-y` is a range, a `-` after a
    // range extends it, a trailing `-` is literal.
    let mut ranges: Vec<(u8, u8)> = Vec::new();
    let mut in_range = false;
    for (k, &c) in body.iter().enumerate() {
        let first = k == 0;
        match c {
            b']' if first => ranges.push((b']', b']')),
            b'-' if first => ranges.push((b'-', b'-')),
            b'-' if !in_range => in_range = true,
            c => {
                match ranges.last_mut() {
                    Some(r) if in_range => r.1 = c,
                    _ => ranges.push((c, c)),
                }
                in_range = false;
            }
        }
    }
    if in_range {
        ranges.push((b'-', b'-'));
    }
    let mut set = 0u128;
    for (lo, hi) in ranges {
        for c in lo..=hi {
            set |= 1 << c;
        }
    }
    Ok(Tok::Class { negated, set })
}

/// One alternative, compiled: the bit-parallel NFA. Bit `i` of the state means "tokens before
/// `i` have matched"; bit `len` means "matched".
#[derive(Debug, Clone)]
struct Nfa {
    /// Byte → column of `columns`. Inline, like everything a step reads but the columns, so
    /// a rule set's automata sit in one allocation per glob (resolution walks hundreds).
    class_of: [u8; 256],
    /// Per column: (positions whose one-byte token accepts the byte, so the bit moves one up;
    /// positions of `*` / `**` tokens that consume the byte and stay).
    columns: Box<[(u64, u64)]>,
    /// Positions with an empty move to the next one (`*`, `**`, an optional pair's start).
    skip1: u64,
    /// Positions with an empty move three on (an optional pair skipped).
    skip3: u64,
    /// The longest chain of empty moves: how often [`Nfa::close`] applies them.
    chain: u8,
    /// The accepting bit.
    done: u64,
    /// The fewest bytes a match has (one-byte tokens outside optional groups).
    min_len: usize,
    /// The tokens after the last `*`, `**` or optional group match the target's last bytes
    /// one for one: (position from the end, token), most selective first. A cheap rejection
    /// before the simulation.
    tail: Box<[(usize, Tok)]>,
}

impl Nfa {
    fn new(toks: &[Tok]) -> Self {
        let accepts = Self::accepts;
        let stays = |t: &Tok, b: u8| match t {
            Tok::Star => b != b'/',
            Tok::Deep => true,
            _ => false,
        };
        let mut columns: Vec<(u64, u64)> = Vec::new();
        let mut class_of = [0u8; 256];
        for b in 0..=255u8 {
            let mut adv = 0u64;
            let mut stay = 0u64;
            for (i, t) in toks.iter().enumerate() {
                adv |= u64::from(accepts(t, b)) << i;
                stay |= u64::from(stays(t, b)) << i;
            }
            let col = match columns.iter().position(|&c| c == (adv, stay)) {
                Some(col) => col,
                None => {
                    columns.push((adv, stay));
                    columns.len() - 1
                }
            };
            // At most 64 tokens + a few kinds of bytes: far below 256 columns.
            class_of[usize::from(b)] = u8::try_from(col).unwrap_or(u8::MAX);
        }
        let mut skip1 = 0;
        let mut skip3 = 0;
        for (i, t) in toks.iter().enumerate() {
            if matches!(t, Tok::Star | Tok::Deep | Tok::OptPair) {
                skip1 |= 1 << i;
            }
            if *t == Tok::OptPair {
                skip3 |= 1 << i;
            }
        }
        // chain[i]: the longest run of empty moves starting at position i.
        let mut chain = vec![0u8; toks.len() + 4];
        for i in (0..toks.len()).rev() {
            if skip1 & (1 << i) != 0 {
                chain[i] = 1 + chain[i + 1];
            }
            if skip3 & (1 << i) != 0 {
                chain[i] = chain[i].max(1 + chain[i + 3]);
            }
        }
        let chain = chain.into_iter().max().unwrap_or(0);
        let mut tail_start = 0;
        let mut optional = 0u64;
        for (i, t) in toks.iter().enumerate() {
            match t {
                Tok::Star | Tok::Deep => tail_start = tail_start.max(i + 1),
                Tok::OptPair => {
                    tail_start = tail_start.max(i + 3);
                    optional |= 0b110 << i;
                }
                _ => {}
            }
        }
        let one_byte = |t: &Tok| matches!(t, Tok::Lit(_) | Tok::Any | Tok::Class { .. });
        let min_len = toks
            .iter()
            .enumerate()
            .filter(|&(i, t)| one_byte(t) && optional & (1 << i) == 0)
            .count();
        let fixed = &toks[tail_start.min(toks.len())..];
        let mut tail: Vec<(usize, Tok)> = fixed
            .iter()
            .enumerate()
            .map(|(k, t)| (fixed.len() - k, *t))
            .collect();
        // `?` rejects only `/`: check literals and classes first.
        tail.sort_by_key(|(_, t)| matches!(t, Tok::Any));
        Self {
            class_of,
            columns: columns.into(),
            skip1,
            skip3,
            chain,
            done: 1 << toks.len(),
            min_len,
            tail: tail.into(),
        }
    }

    fn accepts(t: &Tok, b: u8) -> bool {
        match *t {
            Tok::Lit(l) => l == b,
            Tok::Any => b != b'/',
            Tok::Class { negated, set } => (b < 128 && set & (1u128 << b) != 0) != negated,
            _ => false,
        }
    }

    /// Adds every position reachable by empty moves.
    #[inline]
    fn close(&self, mut d: u64) -> u64 {
        for _ in 0..self.chain {
            d |= ((d & self.skip1) << 1) | ((d & self.skip3) << 3);
        }
        d
    }

    fn is_match(&self, target: &[u8]) -> bool {
        if target.len() < self.min_len
            || self
                .tail
                .iter()
                .any(|(k, t)| !Self::accepts(t, target[target.len() - k]))
        {
            return false;
        }
        let mut d = self.close(1);
        for &b in target {
            let (advance, stay) = self.columns[usize::from(self.class_of[usize::from(b)])];
            d = self.close(((d & advance) << 1) | (d & stay));
            if d == 0 {
                return false;
            }
        }
        d & self.done != 0
    }
}

/// A compiled glob: its alternatives.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    alternatives: Box<[Nfa]>,
    /// The shortest target any alternative can match: a shorter one is refused before any
    /// alternative is looked at (499 rules of 16 alternatives each would otherwise touch
    /// ~8,000 automata for one short file name).
    min_len: usize,
}

impl Glob {
    /// Compiles a glob globset has accepted; refuses shapes beyond the bounds above (too many
    /// alternatives or tokens, non-ASCII classes, `**` next to `{`, `,` or `}`).
    pub(crate) fn new(pattern: &str) -> Result<Self, Refusal> {
        for around in ["{**", ",**", "**}", "**,", "}**", "**{"] {
            if pattern.contains(around) {
                return Err(format!(
                    "{around:?}: ** next to {{, , or }} is not supported; spell the alternatives out"
                ));
            }
        }
        let alternatives = expand(pattern)?
            .iter()
            .map(|alt| {
                let toks = parse(alt)?;
                if toks.len() > TOKENS_MAX {
                    return Err(format!(
                        "it has {} tokens; at most {TOKENS_MAX} are allowed",
                        toks.len()
                    ));
                }
                Ok(Nfa::new(&toks))
            })
            .collect::<Result<Vec<_>, Refusal>>()?;
        let min_len = alternatives.iter().map(|a| a.min_len).min().unwrap_or(0);
        Ok(Self {
            alternatives: alternatives.into(),
            min_len,
        })
    }

    /// How many alternatives the glob expanded to.
    pub(crate) fn alternatives(&self) -> usize {
        self.alternatives.len()
    }

    /// Whether `target` (a path, or a base name) matches.
    pub(crate) fn is_match(&self, target: &str) -> bool {
        let target = target.as_bytes();
        target.len() >= self.min_len && self.alternatives.iter().any(|a| a.is_match(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn globset(pattern: &str) -> Option<globset::GlobMatcher> {
        crate::routing::compile_glob("m", pattern)
            .ok()
            .map(|g| g.compile_matcher())
    }

    #[test]
    fn examples() {
        let cases = [
            ("*.py", "app.py", true),
            ("*.py", "a/app.py", false),
            ("src/**/*.rs", "src/main.rs", true),
            ("src/**/*.rs", "src/a/b/main.rs", true),
            ("**/test_*.py", "test_x.py", true),
            ("**/test_*.py", "a/test_x.py", true),
            ("docs/**", "docs/a/b", true),
            ("docs/**", "docs", false),
            ("**", "a/b/c", true),
            ("*.{ts,tsx}", "a.tsx", true),
            ("*.{ts,tsx}", "a.js", false),
            ("[!a]?", "/b", true),
            ("\\*", "*", true),
            ("*a????????????????????", &"b".repeat(255), false),
        ];
        for (p, t, want) in cases {
            let g = Glob::new(p).unwrap();
            assert_eq!(g.is_match(t), want, "{p} vs {t}");
            assert_eq!(globset(p).unwrap().is_match(t), want, "globset: {p} vs {t}");
        }
    }

    #[test]
    fn bounds_are_refused_with_the_reason() {
        let many = "{a,b}{c,d}{e,f}{g,h}{i,j}";
        assert!(Glob::new(many).unwrap_err().contains("alternatives"));
        assert!(Glob::new(&"?".repeat(64)).unwrap_err().contains("tokens"));
        assert!(Glob::new("{a,**/b}").unwrap_err().contains("**"));
        assert!(Glob::new("[é]").unwrap_err().contains("non-ASCII"));
        for glued in ["src/{*,x}*", "src/*{*,x}", "a/*{,*}"] {
            assert!(
                Glob::new(glued).unwrap_err().contains("both sides"),
                "{glued}"
            );
        }
        assert!(Glob::new("a\\").is_err());
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a", "b", ".", "/", "*", "**", "?", "[ab]", "[!a]", "[a-c]", "{a,b}", "{a,/}", "{,b}",
            "\\*", "é", "-", "]", "/**/", "**/", "/**", "[]a-]", "{*,a}", "{a,*}", "\\/",
        ])
    }

    fn byte() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["a", "b", "c", ".", "/", "*", "é", "-", "]"])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn matches_exactly_like_globset(
            pattern in prop::collection::vec(piece(), 0..8).prop_map(|v| v.concat()),
            targets in prop::collection::vec(
                prop::collection::vec(byte(), 0..10).prop_map(|v| v.concat()), 1..8),
        ) {
            let (Some(reference), Ok(ours)) = (globset(&pattern), Glob::new(&pattern)) else {
                return Ok(());
            };
            for t in &targets {
                prop_assert_eq!(ours.is_match(t), reference.is_match(t), "{:?} vs {:?}", pattern, t);
            }
        }
    }
}
