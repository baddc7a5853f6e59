//! Person names: strict (case evidence, or a known first name in flat-case text) after
//! "I'm", loose after "my name is". It must never take a mood, a nationality or a pronoun
//! for a name.

use super::super::lexicon as lx;
use super::super::text::{CaseMode, Doc};
use super::*;

// ---------------------------------------------------------------- names

#[rustfmt::skip]
pub(crate) fn is_name_particle(w: &str) -> bool {
    matches!(
        w,
        "de" | "da" | "do" | "dos" | "das" | "del" | "della" | "di" | "van" | "von" | "der"
            | "den" | "le" | "la" | "du" | "bin" | "binti" | "ibn" | "al" | "el" | "ter" | "ten"
            | "y"
    )
}

/// Words that can never be a name, even loosely ("my name is NOT important").
#[rustfmt::skip]
pub(crate) fn is_core_stop(w: &str) -> bool {
    matches!(
        w,
        "not" | "a" | "an" | "the" | "my" | "your" | "his" | "her" | "their" | "our" | "it"
            | "this" | "that" | "what" | "who" | "secret" | "unknown" | "private" | "none"
            | "nothing" | "important" | "irrelevant" | "confidential" | "classified" | "n/a"
            | "and" | "but" | "or" | "so" | "is" | "was" | "in" | "on" | "at" | "from" | "with"
            | "by" | "also" | "still" | "just" | "too" | "same" | "different" | "weird" | "long"
            | "short" | "hard" | "difficult" | "easy" | "common" | "rare" | "unusual" | "funny"
            | "i" | "am" | "me" | "you" | "please"
    )
}

/// A single token acceptable as (part of) a person's name with case evidence.
pub(crate) fn strict_name_word(doc: &Doc<'_>, i: usize, end: usize) -> bool {
    if !is_word(doc, i, end) || doc.case != CaseMode::Mixed {
        return false;
    }
    let t = &doc.toks[i];
    let n = doc.n(i);
    if !t.cap || t.has_digit {
        return false;
    }
    let chars = doc.s(i).chars().count();
    if t.all_caps() && chars >= 2 {
        return false;
    }
    if lx::is_not_a_name(n)
        || lx::is_demonym_or_creed(n)
        || lx::is_language(n)
        || lx::is_diet(n)
        || is_core_stop(n)
        || lx::month(n).is_some() && n.len() > 3 && !matches!(n, "april" | "may" | "june")
    {
        return false;
    }
    if n.ends_with("ing") && n.len() >= 6 {
        return false;
    }
    if n.ends_with("ed") && n.len() >= 7 && !matches!(n, "mohammed" | "muhammed" | "mehmed") {
        return false;
    }
    true
}

/// A person's name. `strict` demands case evidence (after "I'm", "this is"); loose accepts
/// any plausible word (after "my name is", "call me"), keeping the user's casing.
pub(crate) fn name(doc: &Doc<'_>, i: usize, end: usize, strict: bool) -> Option<R> {
    let i = skip_open(doc, i, end);
    if !is_word(doc, i, end) {
        return None;
    }
    let first = doc.n(i);
    let mixed = doc.case == CaseMode::Mixed;
    // "Dr. Patel", "Mr Smith": a title is kept with the name it introduces.
    if matches!(first, "dr" | "mr" | "mrs" | "ms" | "mx" | "prof") && doc.toks[i].cap {
        let mut k = i + 1;
        if k < end && doc.toks[k].is_punct('.') && doc.toks[k].start == doc.toks[i].end {
            k += 1;
        }
        if strict_name_word(doc, k, end) || (!strict && is_word(doc, k, end)) {
            let r = name(doc, k, end, strict)?;
            return Some(R { a: i, b: r.b });
        }
        return None;
    }
    if strict {
        if !strict_name_word(doc, i, end) {
            return None;
        }
        // "I'm Ana's mother" is about Ana, not a name for the user.
        if w(doc, i + 1, end) == "'s" {
            return None;
        }
    } else {
        let cap = doc.toks[i].cap;
        if is_core_stop(first) || is_number(first) || (!(mixed && cap) && lx::is_not_a_name(first))
        {
            return None;
        }
    }
    let mut k = i + 1;
    let mut count = 1;
    while k < end && count < 4 {
        if !is_word(doc, k, end) {
            break;
        }
        let n = doc.n(k);
        if mixed {
            if is_name_particle(n) && strict_name_word(doc, k + 1, end) {
                k += 2;
                count += 1;
                continue;
            }
            if strict_name_word(doc, k, end) {
                k += 1;
                count += 1;
                continue;
            }
            break;
        }
        if strict
            || count >= 3
            || is_core_stop(n)
            || lx::is_not_a_name(n)
            || n == "here"
            || n == "nice"
            || !n.chars().all(char::is_alphabetic)
        {
            break;
        }
        k += 1;
        count += 1;
    }
    Some(R { a: i, b: k })
}
