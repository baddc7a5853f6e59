//! Rule-based fact extraction: turns one English user-role chat message into long-term
//! "facts" about its author (name, location, employer, likes, ...).
//!
//! The extractor is pure, deterministic and offline: the same text always yields the same
//! facts in the same order. It must never do I/O, read the clock, draw randomness, keep
//! global mutable state, use `unsafe`, or panic — whatever the input (empty, 64 KiB, emoji,
//! right-to-left scripts, NUL and other control characters).
//!
//! # Pipeline
//! 1. [`text`] tokenises the message once (ASCII-lowercased copy, contractions expanded,
//!    byte spans kept for every token) and cuts it into sentences and clauses.
//! 2. [`rules`] throws away clauses that are questions, hypotheticals, reported speech or
//!    about third parties, strips discourse cues ("actually", "sorry,", "now") and matches
//!    the clause against a table of first-person patterns anchored at its start.
//! 3. [`values`] parses and validates the value slot of a pattern (a name, a place, an
//!    email, a date, a list of languages, ...) using the word lists in [`lexicon`].
//!
//! Precision is preferred over recall: a pattern whose value cannot be validated yields
//! nothing rather than a guess. The word lists are small and English-only by design.

mod gazetteer;
mod lexicon;
mod rules;
pub mod score;
mod text;
mod values;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

/// Name of this extractor, stored with every fact so facts can be re-derived when it changes.
pub const EXTRACTOR_NAME: &str = "rules";
/// Bumped whenever a change to the rules can change the facts produced for some input.
pub const EXTRACTOR_VERSION: i32 = 7;

/// What a fact says about the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predicate {
    Name,
    PreferredName,
    Age,
    Birthday,
    Location,
    Hometown,
    Employer,
    JobTitle,
    Likes,
    Dislikes,
    Pet,
    Family,
    Language,
    Email,
    Timezone,
    Diet,
    Allergy,
}

/// Whether a predicate holds one current value per user or a set of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// A new value replaces the old one (name, location, employer, ...).
    One,
    /// Values accumulate (likes, pets, languages, ...).
    Many,
}

impl Predicate {
    pub const ALL: [Predicate; 17] = [
        Predicate::Name,
        Predicate::PreferredName,
        Predicate::Age,
        Predicate::Birthday,
        Predicate::Location,
        Predicate::Hometown,
        Predicate::Employer,
        Predicate::JobTitle,
        Predicate::Likes,
        Predicate::Dislikes,
        Predicate::Pet,
        Predicate::Family,
        Predicate::Language,
        Predicate::Email,
        Predicate::Timezone,
        Predicate::Diet,
        Predicate::Allergy,
    ];

    /// The snake_case name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Predicate::Name => "name",
            Predicate::PreferredName => "preferred_name",
            Predicate::Age => "age",
            Predicate::Birthday => "birthday",
            Predicate::Location => "location",
            Predicate::Hometown => "hometown",
            Predicate::Employer => "employer",
            Predicate::JobTitle => "job_title",
            Predicate::Likes => "likes",
            Predicate::Dislikes => "dislikes",
            Predicate::Pet => "pet",
            Predicate::Family => "family",
            Predicate::Language => "language",
            Predicate::Email => "email",
            Predicate::Timezone => "timezone",
            Predicate::Diet => "diet",
            Predicate::Allergy => "allergy",
        }
    }

    /// Inverse of [`Predicate::as_str`]; exact match only.
    pub fn parse(s: &str) -> Option<Predicate> {
        Predicate::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    pub fn cardinality(self) -> Cardinality {
        match self {
            Predicate::Name
            | Predicate::PreferredName
            | Predicate::Age
            | Predicate::Birthday
            | Predicate::Location
            | Predicate::Hometown
            | Predicate::Employer
            | Predicate::JobTitle
            | Predicate::Email
            | Predicate::Timezone => Cardinality::One,
            Predicate::Likes
            | Predicate::Dislikes
            | Predicate::Pet
            | Predicate::Family
            | Predicate::Language
            | Predicate::Diet
            | Predicate::Allergy => Cardinality::Many,
        }
    }
}

/// How a statement relates to what was known before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// Plain statement: "My name is Ana."
    Assert,
    /// The previous value was never true: "Actually, my name is Ana.", "Sorry, it's March 13."
    Correction,
    /// The previous value was true until now: "I moved to Paris."
    Change,
    /// Ends a value without a new one: "I no longer live in Lyon.", "I left Acme."
    /// The object is the value being ended.
    Retraction,
}

impl FactKind {
    /// The snake_case name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Assert => "assert",
            FactKind::Correction => "correction",
            FactKind::Change => "change",
            FactKind::Retraction => "retraction",
        }
    }

    /// Inverse of [`FactKind::as_str`]; exact match only.
    pub fn parse(s: &str) -> Option<FactKind> {
        [
            FactKind::Assert,
            FactKind::Correction,
            FactKind::Change,
            FactKind::Retraction,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One fact found in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractedFact {
    pub predicate: Predicate,
    /// Normalised value, keeping the user's casing: no leading article, no trailing punctuation.
    pub object: String,
    pub kind: FactKind,
    /// Byte range in the input of the clause the fact came from (always on char boundaries).
    pub span: (usize, usize),
    /// Stable id of the rule that fired, e.g. `"name.my_name_is"`.
    pub rule_id: &'static str,
    /// 0..=1; lower for weaker patterns and for messages without usable capitalisation.
    pub confidence: f32,
    /// Extra detail, e.g. `[("species", "cat")]` for a named pet, `[("relation", "wife")]`.
    pub attributes: Vec<(&'static str, String)>,
}

/// Extracts facts from a user-role message. Pure and deterministic; never panics.
pub fn extract(text: &str) -> Vec<ExtractedFact> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let doc = text::Doc::new(text);
    rules::run(&doc)
}
