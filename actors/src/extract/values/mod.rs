//! Parsers for the value slot of a pattern: each takes a token position and the clause end
//! and returns the token range of a validated value (or several, for lists), or `None`.
//!
//! They only look at tokens; they never guess across a clause boundary and never return an
//! empty range. Capitalisation is used as evidence only when the message has usable case
//! ([`CaseMode::Mixed`]); in flat-case messages the stricter parsers refuse instead.

//!
//! # Layout
//! [`names`], [`places`] (and organisations), [`jobs`], [`phrases`] (lists, languages),
//! [`numbers`] (ages, dates), [`contact`] (email, time zone), [`diet`].

mod contact;
mod diet;
mod jobs;
mod names;
mod numbers;
mod phrases;
mod places;

#[cfg(test)]
pub(crate) use contact::valid_email;
pub(crate) use contact::{email, timezone};
pub(crate) use diet::diet;
pub(crate) use jobs::{job_free, job_lex};
pub(crate) use names::name;
pub(crate) use numbers::{age, date};
pub(crate) use phrases::{gerund, gerund_phrase, item_text, languages, phrase_stop, phrases};
pub(crate) use places::{org, place};

use super::text::{Doc, Quote, TokenKind};

/// A half-open token range `[a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct R {
    pub a: usize,
    pub b: usize,
}

/// Normalised word at `i` if it is a word inside the clause, else "".
pub(crate) fn w<'d>(doc: &'d Doc<'_>, i: usize, end: usize) -> &'d str {
    if i < end && doc.toks.get(i).is_some_and(|t| t.is_word()) {
        doc.n(i)
    } else {
        ""
    }
}

pub(crate) fn is_word(doc: &Doc<'_>, i: usize, end: usize) -> bool {
    i < end && doc.toks.get(i).is_some_and(|t| t.is_word())
}

pub(crate) fn is_punct(doc: &Doc<'_>, i: usize, end: usize, c: char) -> bool {
    i < end && doc.toks.get(i).is_some_and(|t| t.is_punct(c))
}

/// Object text for tokens `[a, b)`: the user's own characters, whitespace runs collapsed.
pub(crate) fn join(doc: &Doc<'_>, r: R) -> String {
    let mut s = String::new();
    let mut last_end = None;
    for i in r.a..r.b {
        let Some(t) = doc.toks.get(i) else { break };
        if let Some(e) = last_end {
            if t.start < e {
                // Second half of a contraction sharing its surface: already written.
                continue;
            }
            if t.start > e {
                s.push(' ');
            }
        }
        s.push_str(doc.s(i));
        last_end = Some(t.end);
    }
    let trimmed = s.trim_end_matches([',', ';', ':', ' ']);
    if trimmed.len() != s.len() {
        s.truncate(trimmed.len());
    }
    s
}

/// Skips opening quotes and brackets around a value.
pub(crate) fn skip_open(doc: &Doc<'_>, mut i: usize, end: usize) -> usize {
    while i < end {
        match doc.toks[i].kind {
            TokenKind::Punct('(' | '[' | '<' | '*') => i += 1,
            TokenKind::Punct(_) if doc.toks[i].quote != Quote::None => i += 1,
            _ => break,
        }
    }
    i
}

pub(crate) fn is_number(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())
}
