//! Diet labels ("vegan", "gluten free"). It must never take a diet word that is followed
//! by something it qualifies ("vegan cheese") for the user's diet.

use super::super::lexicon as lx;
use super::super::text::Doc;
use super::*;

// ---------------------------------------------------------------- diets

pub(crate) fn diet_follow_ok(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    if k >= end || !doc.toks[k].is_word() {
        return true;
    }
    matches!(
        doc.n(k),
        "now"
            | "sorry"
            | "and"
            | "but"
            | "so"
            | "too"
            | "anymore"
            | "any"
            | "since"
            | "for"
            | "btw"
            | "lol"
            | "haha"
            | "these"
            | "nowadays"
            | "myself"
            | "actually"
            | "mostly"
            | "though"
            | "again"
            | "diet"
            | "in"
            | "last"
            | "this"
            | "as"
            | "because"
            | "or"
            | "at"
            | "most"
            | "all"
            | "i"
    )
}

/// A diet label after optional article and hedges: "vegan", "a pescatarian",
/// "strictly vegetarian", "gluten-free", "gluten free".
pub(crate) fn diet(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut k = skip_open(doc, i, end);
    while matches!(
        w(doc, k, end),
        "a" | "an"
            | "strict"
            | "strictly"
            | "mostly"
            | "fully"
            | "full"
            | "completely"
            | "100%"
            | "total"
            | "totally"
            | "pretty"
            | "much"
            | "basically"
            | "fully-fledged"
    ) {
        k += 1;
    }
    let n = w(doc, k, end);
    let r = if lx::is_diet(n) {
        R { a: k, b: k + 1 }
    } else if lx::diet_pair(n, w(doc, k + 1, end)) {
        R { a: k, b: k + 2 }
    } else {
        return None;
    };
    diet_follow_ok(doc, r.b, end).then_some(r)
}
