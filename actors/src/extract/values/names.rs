//! Person names: strict (case evidence, or a known first name in flat-case text) after
//! "I'm", loose after "my name is". It must never take a mood, a nationality or a pronoun
//! for a name.

use super::super::gazetteer;
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

/// Words in the first-name list that say something else after "I am" ("I am will-ing").
fn is_ambiguous_first_name(w: &str) -> bool {
    matches!(
        w,
        "will" | "may" | "guy" | "man" | "bill" | "major" | "page" | "art" | "an" | "in" | "so"
    )
}

/// An uncapitalised word that is a known first name and nothing a mood or a trait could be.
fn known_first_name(doc: &Doc<'_>, i: usize, end: usize) -> bool {
    if !is_word(doc, i, end) || doc.toks[i].has_digit {
        return false;
    }
    let n = doc.n(i);
    gazetteer::is_first_name(n)
        && !is_ambiguous_first_name(n)
        && !lx::is_not_a_name(n)
        && !lx::is_demonym_or_creed(n)
        && !lx::is_language(n)
        && !lx::is_diet(n)
        && !is_core_stop(n)
}

/// What may follow a name said without capitals: the clause's end or a word that starts
/// something else ("i am tom and i ...", "i am tom from ohio", "im tom nice to meet you").
fn name_may_end(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    if !is_word(doc, k, end) {
        return true;
    }
    matches!(
        doc.n(k),
        "and"
            | "from"
            | "nice"
            | "here"
            | "i"
            | "btw"
            | "lol"
            | "haha"
            | "but"
            | "so"
            | "by"
            | "what"
            | "how"
            | "hbu"
            | "wbu"
            | "hi"
            | "hello"
            | "hey"
            | "originally"
            | "too"
            | "also"
            | "you"
            | "u"
            | "pleased"
            | "glad"
    )
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
            // Lowercase chat ("hi, i am tom"): a known first name, standing alone.
            if doc.lower_values && known_first_name(doc, i, end) && name_may_end(doc, i + 1, end) {
                return Some(R { a: i, b: i + 1 });
            }
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
        // "my name is Samoan" says where the name comes from ("Christian" is a name too).
        if lx::is_demonym_or_creed(first) && !gazetteer::is_first_name(first) {
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
