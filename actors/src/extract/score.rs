//! Scoring an extractor against labelled messages: which expected facts it found, which it
//! missed and which it made up, per predicate and over all (micro), strictly and leniently.
//!
//! Strict: same predicate and the same object up to case, whitespace and final punctuation.
//! Lenient: same predicate and objects whose content words (articles, possessives and a
//! plural `s` aside) are one a subset of the other, so "a dog" matches "dogs" and "hiking"
//! matches "hiking the Y". An expected fact that names a kind must match it in both modes.
//! Matching is one to one within a message. Pure and deterministic: no I/O, no clock; it must
//! never depend on the order facts happen to come in beyond the first-come pairing it documents.

use std::collections::BTreeMap;

use super::{FactKind, Predicate};

/// A fact as labelled or as extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub predicate: Predicate,
    pub object: String,
    /// For an expected fact: the kind it must have, if the label says. For an extracted fact:
    /// its kind.
    pub kind: Option<FactKind>,
}

/// Strict or lenient comparison of objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Strict,
    Lenient,
}

impl Mode {
    pub const BOTH: [Mode; 2] = [Mode::Strict, Mode::Lenient];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Lenient => "lenient",
        }
    }
}

/// True positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    /// 1.0 when nothing was predicted (no claim can be wrong).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// 1.0 when nothing was expected.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// How many facts were expected.
    pub fn gold(&self) -> usize {
        self.tp + self.fn_
    }

    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// What one message scored: indexes into the expected and the extracted facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// (expected, extracted) pairs that match.
    pub matched: Vec<(usize, usize)>,
    /// Expected facts nothing matched.
    pub missed: Vec<usize>,
    /// Extracted facts that match nothing expected.
    pub extra: Vec<usize>,
}

/// Lowercased, whitespace collapsed, surrounding quotes and final punctuation dropped.
pub fn strict_form(object: &str) -> String {
    let lower = object.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    words
        .join(" ")
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’' | '`'))
        .trim_end_matches(['.', ',', ';', ':', '!', '?'])
        .trim()
        .to_owned()
}

/// Words that carry no content of their own in a value ("THE gym", "MY dog").
fn is_empty_word(w: &str) -> bool {
    matches!(
        w,
        "a" | "an" | "the" | "my" | "our" | "your" | "his" | "her" | "their" | "some" | "s" | "to"
    )
}

/// One form for a word's inflections: "traveling", "travel" and "to travel" are the same
/// pastime, "jamming" and "jam" the same verb ("ing", a final "e", a doubled consonant go).
fn stem(w: &str) -> &str {
    let long = |s: &str| s.chars().count() >= 3;
    let mut s = w.strip_suffix("ing").filter(|s| long(s)).unwrap_or(w);
    if let Some(t) = s.strip_suffix('e').filter(|t| long(t)) {
        s = t;
    }
    let b = s.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && b[b.len() - 1].is_ascii_alphabetic() {
        s = &s[..s.len() - 1];
    }
    s
}

/// The content words of an object, lowercased, a plural `s` dropped ("Dogs" → "dog"), verb
/// forms reduced to one stem ("to travel" → "travel" ← "traveling").
pub fn content_words(object: &str) -> Vec<String> {
    let lower = object.to_lowercase();
    let mut out: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !is_empty_word(w))
        .map(|w| {
            let singular = w
                .strip_suffix('s')
                .filter(|stem| stem.chars().count() >= 3 && !stem.ends_with('s'));
            stem(singular.unwrap_or(w)).to_owned()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether two objects match leniently: the content words of one contain the other's.
pub fn lenient_eq(a: &str, b: &str) -> bool {
    let (x, y) = (content_words(a), content_words(b));
    if x.is_empty() || y.is_empty() {
        return strict_form(a) == strict_form(b);
    }
    let subset = |s: &[String], t: &[String]| s.iter().all(|w| t.binary_search(w).is_ok());
    subset(&x, &y) || subset(&y, &x)
}

fn same(gold: &Labelled, got: &Labelled, mode: Mode) -> bool {
    if gold.predicate != got.predicate {
        return false;
    }
    if gold.kind.is_some() && gold.kind != got.kind {
        return false;
    }
    match mode {
        Mode::Strict => strict_form(&gold.object) == strict_form(&got.object),
        Mode::Lenient => lenient_eq(&gold.object, &got.object),
    }
}

/// Pairs expected with extracted facts, one to one: first every strict pair in order, then
/// (leniently) the rest, so a lenient pairing never steals a strict partner.
pub fn score(expected: &[Labelled], extracted: &[Labelled], mode: Mode) -> Outcome {
    let mut used_gold = vec![false; expected.len()];
    let mut used_got = vec![false; extracted.len()];
    let mut matched = Vec::new();
    let passes: &[Mode] = match mode {
        Mode::Strict => &[Mode::Strict],
        Mode::Lenient => &[Mode::Strict, Mode::Lenient],
    };
    for &pass in passes {
        for (gi, g) in expected.iter().enumerate() {
            if used_gold[gi] {
                continue;
            }
            let hit = extracted
                .iter()
                .enumerate()
                .find(|&(xi, x)| !used_got[xi] && same(g, x, pass));
            if let Some((xi, _)) = hit {
                used_gold[gi] = true;
                used_got[xi] = true;
                matched.push((gi, xi));
            }
        }
    }
    matched.sort_unstable();
    Outcome {
        matched,
        missed: (0..expected.len()).filter(|&i| !used_gold[i]).collect(),
        extra: (0..extracted.len()).filter(|&i| !used_got[i]).collect(),
    }
}

/// Counts per predicate and over all, added up message by message.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub per_predicate: BTreeMap<Predicate, Counts>,
    pub micro: Counts,
}

impl Tally {
    /// Adds one message's outcome: hits and misses count for the expected fact's predicate,
    /// made-up facts for the extracted fact's.
    pub fn add(&mut self, expected: &[Labelled], extracted: &[Labelled], outcome: &Outcome) {
        let mut bump = |p: Predicate, c: Counts| {
            self.per_predicate.entry(p).or_default().add(c);
            self.micro.add(c);
        };
        for &(gi, _) in &outcome.matched {
            bump(
                expected[gi].predicate,
                Counts {
                    tp: 1,
                    fp: 0,
                    fn_: 0,
                },
            );
        }
        for &gi in &outcome.missed {
            bump(
                expected[gi].predicate,
                Counts {
                    tp: 0,
                    fp: 0,
                    fn_: 1,
                },
            );
        }
        for &xi in &outcome.extra {
            bump(
                extracted[xi].predicate,
                Counts {
                    tp: 0,
                    fp: 1,
                    fn_: 0,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: Predicate, o: &str) -> Labelled {
        Labelled {
            predicate: p,
            object: o.to_owned(),
            kind: None,
        }
    }

    #[test]
    fn lenient_objects() {
        assert!(lenient_eq("a dog", "dog"));
        assert!(lenient_eq("Dogs", "dog"));
        assert!(lenient_eq("the Rocky Mountains", "Rocky Mountains"));
        assert!(lenient_eq("hiking the Y", "hiking"));
        assert!(lenient_eq("chocolate lab", "lab"));
        assert!(!lenient_eq("dog", "cat"));
        assert!(!lenient_eq("glass", "gla"));
        assert!(lenient_eq("田中", "田中"));
        assert!(!lenient_eq("the", "a"));
        // Verb forms of one pastime: labels say "to travel", facts "traveling".
        assert!(lenient_eq("to travel", "traveling"));
        assert!(lenient_eq("to jam out", "jamming out"));
        assert!(lenient_eq("to play music", "playing music"));
        assert!(lenient_eq("to write", "writing"));
        assert!(lenient_eq("travelling", "travel"));
        assert!(!lenient_eq("sing", "song"));
        assert!(!lenient_eq("thing", "th"));
        assert!(!lenient_eq("to", "the"));
        assert_eq!(strict_form("  The  Gym. "), "the gym");
        assert_eq!(content_words("My dog's toys"), vec!["dog", "toy"]);
    }

    #[test]
    fn pairs_one_to_one_strict_first() {
        let gold = vec![
            f(Predicate::Likes, "hiking"),
            f(Predicate::Likes, "hiking trips"),
        ];
        let got = vec![
            f(Predicate::Likes, "hiking trips"),
            f(Predicate::Pet, "cat"),
        ];
        let strict = score(&gold, &got, Mode::Strict);
        assert_eq!(strict.matched, vec![(1, 0)]);
        assert_eq!(
            (strict.missed.clone(), strict.extra.clone()),
            (vec![0], vec![1])
        );
        // The lenient pass cannot give "hiking trips" away to "hiking": it is taken.
        let lenient = score(&gold, &got, Mode::Lenient);
        assert_eq!(lenient.matched, vec![(1, 0)]);
        let mut t = Tally::default();
        t.add(&gold, &got, &lenient);
        assert_eq!(
            t.micro,
            Counts {
                tp: 1,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            t.per_predicate[&Predicate::Pet],
            Counts {
                tp: 0,
                fp: 1,
                fn_: 0
            }
        );
        assert!((t.micro.precision() - 0.5).abs() < 1e-9);
        assert!((t.micro.f1() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_labelled_kind_must_match() {
        let mut gold = f(Predicate::Location, "Georgia");
        gold.kind = Some(FactKind::Retraction);
        let mut got = f(Predicate::Location, "Georgia");
        got.kind = Some(FactKind::Assert);
        assert!(score(&[gold.clone()], &[got.clone()], Mode::Lenient)
            .matched
            .is_empty());
        got.kind = Some(FactKind::Retraction);
        assert_eq!(score(&[gold], &[got], Mode::Strict).matched, vec![(0, 0)]);
        assert_eq!(Counts::default().precision(), 1.0);
        assert_eq!(Counts::default().f1(), 1.0);
    }
}
