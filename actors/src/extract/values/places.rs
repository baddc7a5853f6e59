//! Places and organisations: runs of proper nouns with connectors ("Rio de Janeiro", "Bank
//! of America"), flat-case runs stopped by function words, and gazetteer places in any case.
//! It must never take a department, a pronoun or a time for a place or an employer.

use super::super::gazetteer;
use super::super::lexicon as lx;
use super::super::text::{CaseMode, Doc};
use super::names::is_core_stop;
use super::*;

// ---------------------------------------------------------------- places and organisations

pub(crate) fn proper(doc: &Doc<'_>, i: usize, end: usize) -> bool {
    if !is_word(doc, i, end) {
        return false;
    }
    let t = &doc.toks[i];
    let n = doc.n(i);
    (t.cap || t.has_upper) && n != "i" && n != "'s" && !is_conj(n)
}

pub(crate) fn is_conj(w: &str) -> bool {
    matches!(
        w,
        "and" | "but" | "or" | "so" | "because" | "since" | "though"
    )
}

#[rustfmt::skip]
pub(crate) fn place_connector(w: &str) -> bool {
    matches!(
        w,
        "de" | "da" | "do" | "dos" | "das" | "del" | "of" | "on" | "upon" | "la" | "le" | "les"
            | "sur" | "am" | "an" | "y" | "du" | "des" | "di" | "el" | "al" | "en"
    )
}

pub(crate) fn org_connector(w: &str) -> bool {
    matches!(
        w,
        "of" | "de" | "du" | "der" | "des" | "la" | "le" | "y" | "for"
    )
}

/// Stops a value in a flat-case message, where capitalisation can't.
pub(crate) fn flat_stop(w: &str) -> bool {
    is_conj(w)
        || matches!(
            w,
            "with"
                | "for"
                | "now"
                | "anymore"
                | "in"
                | "on"
                | "at"
                | "near"
                | "from"
                | "to"
                | "right"
                | "currently"
                | "these"
                | "this"
                | "last"
                | "next"
                | "ago"
                | "when"
                | "while"
                | "which"
                | "who"
                | "where"
                | "i"
                | "my"
                | "it"
                | "is"
                | "was"
                | "lol"
                | "haha"
                | "too"
                | "again"
                | "as"
                | "since"
                | "until"
                | "already"
                | "recently"
                | "yesterday"
                | "today"
                | "tomorrow"
                | "btw"
                | "though"
                | "anyway"
                | "also"
                | "still"
                | "years"
                | "months"
                | "weeks"
                | "days"
                | "year"
                | "month"
                | "week"
                | "full-time"
                | "part-time"
                | "remotely"
                | "there"
                | "here"
                | "please"
                | "thanks"
                | "by"
                | "after"
                | "before"
                | "during"
                | "if"
                | "its"
                | "does"
                | "do"
                | "not"
                | "did"
                | "get"
                | "gets"
                | "has"
                | "have"
                | "had"
                | "be"
                | "so"
                | "really"
                | "like"
                | "just"
        )
}

/// A run of proper-noun tokens with connectors ("Rio de Janeiro", "Bank of America",
/// "St. Mary's Hospital", "Ernst & Young") and, for places, one ", Region" continuation.
pub(crate) fn proper_run(doc: &Doc<'_>, i: usize, end: usize, place: bool) -> Option<R> {
    if !proper(doc, i, end) {
        return None;
    }
    let mut k = i + 1;
    let mut last = k;
    let mut comma_used = false;
    let mut count = 1;
    while k < end && count < 7 {
        let t = &doc.toks[k];
        let n = doc.n(k);
        if proper(doc, k, end) {
            k += 1;
            last = k;
            count += 1;
            continue;
        }
        // "McDonald's", "St. Mary's": a possessive glued to the previous word.
        if n == "'s" && t.start == doc.toks[k - 1].end {
            k += 1;
            last = k;
            continue;
        }
        if t.is_punct('.')
            && doc.toks[k - 1].end == t.start
            && lx::is_abbreviation(doc.n(k - 1))
            && proper(doc, k + 1, end)
        {
            k += 1;
            continue;
        }
        if t.is_word() {
            let conn = if place {
                place_connector(n)
            } else {
                org_connector(n) || (n == "the" && doc.n(k - 1) == "of")
            };
            if conn && (proper(doc, k + 1, end) || (n == "of" && w(doc, k + 1, end) == "the")) {
                k += 1;
                continue;
            }
            break;
        }
        if !place && (t.is_punct('&') || t.is_punct('+')) && proper(doc, k + 1, end) {
            k += 1;
            continue;
        }
        if place && t.is_punct(',') && !comma_used && proper(doc, k + 1, end) {
            // "Portland, Oregon": only when the region closes the value.
            let mut m = k + 1;
            let mut c = 0;
            while proper(doc, m, end) && c < 3 {
                m += 1;
                c += 1;
            }
            let closes = m >= end
                || !doc.toks[m].is_word()
                || matches!(
                    doc.n(m),
                    "now" | "anymore" | "and" | "but" | "since" | "for"
                );
            if closes && doc.n(k + 1) != "i" {
                comma_used = true;
                k = m;
                last = k;
                continue;
            }
        }
        break;
    }
    Some(R { a: i, b: last })
}

/// A run of words in a flat-case message, up to `max` words, stopped by function words.
pub(crate) fn flat_run(doc: &Doc<'_>, i: usize, end: usize, max: usize) -> Option<R> {
    let mut k = i;
    while k < end && k - i < max && is_word(doc, k, end) && !flat_stop(doc.n(k)) {
        k += 1;
    }
    (k > i).then_some(R { a: i, b: k })
}

pub(crate) fn bad_place_head(n: &str) -> bool {
    lx::is_department_or_generic(n)
        || lx::month(n).is_some()
        || is_number(n)
        || matches!(
            n,
            "a" | "an"
                | "my"
                | "your"
                | "his"
                | "her"
                | "our"
                | "their"
                | "it"
                | "this"
                | "that"
                | "there"
                | "here"
                | "i"
                | "you"
                | "me"
                | "same"
                | "different"
                | "another"
                | "other"
                | "lots"
                | "love"
                | "bed"
                | "town"
                | "class"
                | "line"
                | "trouble"
                | "fact"
                | "general"
                | "case"
                | "pain"
                | "touch"
                | "charge"
                | "church"
                | "faith"
                | "gospel"
                | "military"
                | "army"
                | "navy"
                | "foster"
                | "system"
                | "byu"
                | "uvu"
                | "usu"
                | "college"
                | "university"
        )
}

/// A place name: "New York City", "the UK", "Portland, Oregon", "a small village in Portugal".
pub(crate) fn place(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let i = skip_direction(doc, skip_open(doc, i, end), end);
    let the = i;
    let had_the = w(doc, i, end) == "the";
    let i = if had_the { i + 1 } else { i };
    let first = w(doc, i, end);
    if first.is_empty() {
        return None;
    }
    if doc.case == CaseMode::Mixed {
        if let Some(r) = proper_run(doc, i, end, true) {
            if bad_place_head(doc.n(r.a)) {
                return None;
            }
            return Some(r);
        }
        // A writer who does not capitalise names still names known places ("from texas").
        if let Some(r) = known_place(doc, the, i, end) {
            return Some(r);
        }
        if let Some(r) = after_place_adjectives(doc, i, end) {
            return Some(r);
        }
        // "a small village in Portugal": a generic noun phrase, then the real place.
        let mut k = i;
        while k < end && k < i + 7 && is_word(doc, k, end) {
            if doc.n(k) == "in" && proper(doc, k + 1, end) {
                return proper_run(doc, k + 1, end, true).filter(|r| !bad_place_head(doc.n(r.a)));
            }
            if doc.n(k) == "in" {
                if let Some(r) = known_place(doc, k + 1, k + 1, end) {
                    return Some(r);
                }
            }
            k += 1;
        }
        return None;
    }
    if let Some(r) = known_place(doc, the, i, end) {
        return Some(r);
    }
    if let Some(r) = after_place_adjectives(doc, i, end) {
        return Some(r);
    }
    if had_the && matches!(first, "city" | "countryside" | "suburbs" | "area" | "north") {
        return None;
    }
    if bad_place_head(first) {
        let mut k = i;
        while k < end && k < i + 7 && is_word(doc, k, end) {
            if doc.n(k) == "in" {
                return known_place(doc, k + 1, k + 1, end).or_else(|| {
                    flat_run(doc, k + 1, end, 4).filter(|r| !bad_place_head(doc.n(r.a)))
                });
            }
            k += 1;
        }
        return None;
    }
    flat_run(doc, i, end, 4)
}

/// "boring old Cincinnati", "sunny california": the place after words that only say what
/// the user thinks of it. Flat text needs a known place there; a lone adjective is no place.
fn after_place_adjectives(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut j = i;
    while j < end && j < i + 3 && place_adjective(w(doc, j, end)) {
        j += 1;
    }
    if j == i {
        return None;
    }
    let named = if doc.case == CaseMode::Mixed {
        proper_run(doc, j, end, true).filter(|r| !bad_place_head(doc.n(r.a)))
    } else {
        None
    };
    named.or_else(|| known_place(doc, j, j, end))
}

#[rustfmt::skip]
fn place_adjective(n: &str) -> bool {
    matches!(
        n,
        "boring" | "old" | "ol" | "ole" | "good" | "sunny" | "beautiful" | "lovely" | "rainy"
            | "snowy" | "cold" | "hot" | "humid" | "gorgeous" | "dreary" | "sleepy" | "wonderful"
            | "great" | "dear" | "cloudy" | "windy" | "freezing" | "busy" | "amazing" | "scenic"
            | "quiet" | "charming" | "crowded" | "muggy" | "foggy" | "gloomy" | "grey" | "gray"
            | "glorious" | "fabulous" | "fair" | "small" | "little" | "tiny" | "big" | "crazy"
            | "wet" | "chilly" | "lively" | "quaint" | "friendly" | "dusty" | "downtown"
    )
}

/// A place from the gazetteer at `i`, or with its article at `the` ("the midwest").
fn known_place(doc: &Doc<'_>, the: usize, i: usize, end: usize) -> Option<R> {
    if the < i {
        if let Some(b) = gazetteer::place_at(doc, the, end) {
            return Some(R { a: the, b });
        }
    }
    gazetteer::place_at(doc, i, end).map(|b| R { a: i, b })
}

/// "north of Denver", "outside of Boston", "near Austin": where the place itself starts.
fn skip_direction(doc: &Doc<'_>, i: usize, end: usize) -> usize {
    match (w(doc, i, end), w(doc, i + 1, end)) {
        ("north" | "south" | "east" | "west" | "outside", "of") => i + 2,
        ("outside" | "near" | "around", _) => i + 1,
        _ => i,
    }
}

/// What "I work at/for X" says that is no employer: a time, a purpose, a way of working.
#[rustfmt::skip]
fn is_not_an_employer(w: &str) -> bool {
    matches!(
        w,
        "night" | "nights" | "weekends" | "weekend" | "noon" | "dawn" | "dusk" | "morning"
            | "mornings" | "evening" | "evenings" | "times" | "least" | "all" | "once" | "fun"
            | "free" | "money" | "food" | "tips" | "cash" | "minimum" | "hours" | "hour"
            | "most" | "night-time" | "nighttime" | "lunch" | "breakfast" | "dinner"
            | "us" | "them" | "him" | "her" | "people" | "everyone" | "anyone" | "someone"
            | "school" | "church" | "college" | "campus" | "camp" | "best" | "cheap"
            | "while" | "awhile" | "years" | "months" | "weeks" | "days" | "long" | "ages"
            | "kind" | "sort" | "pretty" | "soon" | "now" | "real"
    ) || lx::number_word(w).is_some()
}

/// An employer: "Google", "the United Nations", "St. Mary's Hospital", "Ernst & Young".
pub(crate) fn org(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    let first = w(doc, i, end);
    if matches!(first, "a" | "an") {
        // "a company called Nu Skin": the name that follows.
        let called =
            (i + 2..end.min(i + 5)).find(|&k| matches!(w(doc, k, end), "called" | "named"));
        return called.and_then(|k| org(doc, k + 1, end));
    }
    let had_the = first == "the";
    if had_the {
        i += 1;
    }
    let first = w(doc, i, end);
    if first.is_empty()
        || lx::is_department_or_generic(first)
        || is_core_stop(first)
        || is_number(first)
        || is_not_an_employer(first)
    {
        return None;
    }
    // A writer who capitalises nothing leaves a lowercase name to the flat-case reading.
    if doc.case == CaseMode::Mixed && (!doc.lower_values || doc.toks[i].has_upper) {
        return proper_run(doc, i, end, false);
    }
    if had_the {
        // "the media center", "the BYU library": a lowercase name needs a workplace head.
        let r = flat_run(doc, i, end, 4)?;
        // "the bank" alone is any bank: a name has a word before the head.
        return (r.b - r.a >= 2 && is_workplace(doc.n(r.b - 1))).then_some(R { a: i - 1, b: r.b });
    }
    flat_run(doc, i, end, 4)
}

/// Head nouns of places people work at ("the media CENTER", "the campus LIBRARY").
#[rustfmt::skip]
fn is_workplace(w: &str) -> bool {
    matches!(
        w,
        "center" | "centre" | "library" | "store" | "shop" | "hospital" | "museum" | "office"
            | "restaurant" | "bank" | "factory" | "warehouse" | "clinic" | "bakery" | "cafe"
            | "gym" | "mall" | "hotel" | "lab" | "laboratory" | "studio" | "agency" | "firm"
            | "company" | "plant" | "mill" | "farm" | "ranch" | "pharmacy" | "salon" | "theater"
            | "theatre" | "zoo" | "airport" | "station" | "department" | "bookstore" | "diner"
    )
}
