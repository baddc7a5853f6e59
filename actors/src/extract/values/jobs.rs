//! Job titles: with a known occupation as head noun, or taken as said after "I work as".
//! It must never take a hedge ("aspiring", "former") or a diet for a job.

use super::super::gazetteer;
use super::super::lexicon as lx;
use super::super::text::Doc;
use super::names::is_core_stop;
use super::places::is_conj;
use super::*;

// ---------------------------------------------------------------- jobs

pub(crate) fn job_stop(w: &str) -> bool {
    is_conj(w)
        || matches!(
            w,
            "at" | "for"
                | "in"
                | "with"
                | "from"
                | "who"
                | "that"
                | "which"
                | "now"
                | "anymore"
                | "any"
                | "by"
                | "of"
                | "on"
                | "here"
                | "there"
                | "when"
                | "until"
                | "lol"
                | "haha"
                | "btw"
                | "too"
                | "myself"
                | "again"
                | "since"
                | "last"
                | "this"
                | "next"
                | "as"
                | "i"
                | "is"
                | "was"
                | "to"
                | "full-time"
                | "part-time"
        )
}

pub(crate) fn job_reject_word(w: &str) -> bool {
    matches!(
        w,
        "former"
            | "ex"
            | "retired"
            | "aspiring"
            | "future"
            | "wannabe"
            | "would-be"
            | "fan"
            | "native"
            | "big"
            | "huge"
            | "good"
            | "bad"
            | "great"
            | "terrible"
            | "horrible"
            | "better"
            | "worse"
            | "horrid"
            | "decent"
            | "awful"
            | "mediocre"
            | "average"
            | "lousy"
            | "amazing"
            | "excellent"
            | "no-talent"
            | "okay"
            | "ok"
            | "poor"
            | "best"
            | "worst"
            | "also"
            // "a slow writer", "a messy cook": how the user does something, not a job.
            | "slow"
            | "fast"
            | "quick"
            | "messy"
            | "sloppy"
            | "careless"
    ) || lx::is_diet(w)
}

/// A known occupation: the hand-written list or the gazetteer.
pub(crate) fn is_job_head(n: &str) -> bool {
    lx::is_job_head(n) || gazetteer::is_occupation(n)
}

/// A job title whose head noun is a known occupation ("freelance graphic designer").
/// `i` may point at an article, which is not part of the title.
pub(crate) fn job_lex(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    if matches!(w(doc, i, end), "a" | "an" | "the") {
        i += 1;
    }
    // "a stay at home mom": the one title with an "at" inside.
    let parent = |k: usize| {
        matches!(
            w(doc, k, end),
            "mom" | "mum" | "mother" | "dad" | "father" | "parent" | "wife" | "husband"
        )
    };
    match (w(doc, i, end), w(doc, i + 1, end), w(doc, i + 2, end)) {
        ("stay", "at", "home") if parent(i + 3) => return Some(R { a: i, b: i + 4 }),
        ("stay-at-home", _, _) if parent(i + 1) => return Some(R { a: i, b: i + 2 }),
        _ => {}
    }
    let mut k = i;
    while k < end && k - i < 6 && is_word(doc, k, end) && !job_stop(doc.n(k)) {
        if job_reject_word(doc.n(k)) {
            return None;
        }
        k += 1;
    }
    if k == i || !is_job_head(doc.n(k - 1)) {
        return None;
    }
    Some(R { a: i, b: k })
}

/// A job title taken as said ("I work as a ..."): no lexicon, just a short phrase.
pub(crate) fn job_free(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    if matches!(w(doc, i, end), "a" | "an" | "the") {
        i += 1;
    }
    let first = w(doc, i, end);
    if first.is_empty() || is_core_stop(first) || job_reject_word(first) {
        return None;
    }
    let mut k = i;
    while k < end && k - i < 6 && is_word(doc, k, end) && !job_stop(doc.n(k)) {
        k += 1;
    }
    (k > i).then_some(R { a: i, b: k })
}
