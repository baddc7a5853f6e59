//! Parsers for the value slot of a pattern: each takes a token position and the clause end
//! and returns the token range of a validated value (or several, for lists), or `None`.
//!
//! They only look at tokens; they never guess across a clause boundary and never return an
//! empty range. Capitalisation is used as evidence only when the message has usable case
//! ([`CaseMode::Mixed`]); in flat-case messages the stricter parsers refuse instead.

use super::lexicon as lx;
use super::text::{CaseMode, Doc, Kind, Quote};

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

fn is_punct(doc: &Doc<'_>, i: usize, end: usize, c: char) -> bool {
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
fn skip_open(doc: &Doc<'_>, mut i: usize, end: usize) -> usize {
    while i < end {
        match doc.toks[i].kind {
            Kind::Punct('(' | '[' | '<' | '*') => i += 1,
            Kind::Punct(_) if doc.toks[i].quote != Quote::None => i += 1,
            _ => break,
        }
    }
    i
}

fn is_number(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------- names

#[rustfmt::skip]
fn is_name_particle(w: &str) -> bool {
    matches!(
        w,
        "de" | "da" | "do" | "dos" | "das" | "del" | "della" | "di" | "van" | "von" | "der"
            | "den" | "le" | "la" | "du" | "bin" | "binti" | "ibn" | "al" | "el" | "ter" | "ten"
            | "y"
    )
}

/// Words that can never be a name, even loosely ("my name is NOT important").
#[rustfmt::skip]
fn is_core_stop(w: &str) -> bool {
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
fn strict_name_word(doc: &Doc<'_>, i: usize, end: usize) -> bool {
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

// ---------------------------------------------------------------- places and organisations

fn proper(doc: &Doc<'_>, i: usize, end: usize) -> bool {
    if !is_word(doc, i, end) {
        return false;
    }
    let t = &doc.toks[i];
    let n = doc.n(i);
    (t.cap || t.has_upper) && n != "i" && n != "'s" && !is_conj(n)
}

fn is_conj(w: &str) -> bool {
    matches!(
        w,
        "and" | "but" | "or" | "so" | "because" | "since" | "though"
    )
}

#[rustfmt::skip]
fn place_connector(w: &str) -> bool {
    matches!(
        w,
        "de" | "da" | "do" | "dos" | "das" | "del" | "of" | "on" | "upon" | "la" | "le" | "les"
            | "sur" | "am" | "an" | "y" | "du" | "des" | "di" | "el" | "al" | "en"
    )
}

fn org_connector(w: &str) -> bool {
    matches!(
        w,
        "of" | "de" | "du" | "der" | "des" | "la" | "le" | "y" | "for"
    )
}

/// Stops a value in a flat-case message, where capitalisation can't.
fn flat_stop(w: &str) -> bool {
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
        )
}

/// A run of proper-noun tokens with connectors ("Rio de Janeiro", "Bank of America",
/// "St. Mary's Hospital", "Ernst & Young") and, for places, one ", Region" continuation.
fn proper_run(doc: &Doc<'_>, i: usize, end: usize, place: bool) -> Option<R> {
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
fn flat_run(doc: &Doc<'_>, i: usize, end: usize, max: usize) -> Option<R> {
    let mut k = i;
    while k < end && k - i < max && is_word(doc, k, end) && !flat_stop(doc.n(k)) {
        k += 1;
    }
    (k > i).then_some(R { a: i, b: k })
}

fn bad_place_head(n: &str) -> bool {
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
        )
}

/// A place name: "New York City", "the UK", "Portland, Oregon", "a small village in Portugal".
pub(crate) fn place(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    let had_the = w(doc, i, end) == "the";
    if had_the {
        i += 1;
    }
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
        // "a small village in Portugal": a generic noun phrase, then the real place.
        let mut k = i;
        while k < end && k < i + 7 && is_word(doc, k, end) {
            if doc.n(k) == "in" && proper(doc, k + 1, end) {
                return proper_run(doc, k + 1, end, true).filter(|r| !bad_place_head(doc.n(r.a)));
            }
            k += 1;
        }
        return None;
    }
    if had_the && matches!(first, "city" | "countryside" | "suburbs" | "area" | "north") {
        return None;
    }
    if bad_place_head(first) {
        let mut k = i;
        while k < end && k < i + 7 && is_word(doc, k, end) {
            if doc.n(k) == "in" {
                return flat_run(doc, k + 1, end, 4).filter(|r| !bad_place_head(doc.n(r.a)));
            }
            k += 1;
        }
        return None;
    }
    flat_run(doc, i, end, 4)
}

/// An employer: "Google", "the United Nations", "St. Mary's Hospital", "Ernst & Young".
pub(crate) fn org(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    let first = w(doc, i, end);
    if matches!(first, "a" | "an") {
        return None;
    }
    let had_the = first == "the";
    if had_the {
        i += 1;
    }
    let first = w(doc, i, end);
    if first.is_empty() || lx::is_department_or_generic(first) || is_core_stop(first) {
        return None;
    }
    if doc.case == CaseMode::Mixed {
        return proper_run(doc, i, end, false);
    }
    if had_the {
        return None;
    }
    flat_run(doc, i, end, 4)
}

// ---------------------------------------------------------------- jobs

fn job_stop(w: &str) -> bool {
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

fn job_reject_word(w: &str) -> bool {
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
    ) || lx::is_diet(w)
}

/// A job title whose head noun is a known occupation ("freelance graphic designer").
/// `i` may point at an article, which is not part of the title.
pub(crate) fn job_lex(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    if matches!(w(doc, i, end), "a" | "an" | "the") {
        i += 1;
    }
    let mut k = i;
    while k < end && k - i < 6 && is_word(doc, k, end) && !job_stop(doc.n(k)) {
        if job_reject_word(doc.n(k)) {
            return None;
        }
        k += 1;
    }
    if k == i || !lx::is_job_head(doc.n(k - 1)) {
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

// ---------------------------------------------------------------- free phrases and lists

fn phrase_stop(w: &str) -> bool {
    matches!(
        w,
        "because"
            | "since"
            | "but"
            | "though"
            | "although"
            | "when"
            | "whenever"
            | "while"
            | "especially"
            | "except"
            | "unless"
            | "if"
            | "so"
            | "which"
            | "who"
            | "whom"
            | "whose"
            | "where"
            | "lol"
            | "haha"
            | "tbh"
            | "honestly"
            | "btw"
            | "anymore"
            | "now"
            | "too"
            | "nowadays"
            | "lately"
            | "sometimes"
            | "always"
            | "often"
            | "usually"
            | "than"
            | "every"
            | "during"
            | "with"
            | "i"
            | "more"
            | "most"
            | "anyway"
            | "actually"
            | "really"
            | "instead"
            | "myself"
            | "again"
            | "either"
            | "much"
    )
}

fn phrase_stop_pair(a: &str, b: &str) -> bool {
    matches!(
        (a, b),
        ("a", "lot")
            | ("very", "much")
            | ("so", "much")
            | ("as", "well")
            | ("these", "days")
            | ("any", "more")
            | ("any", "longer")
            | ("at", "all")
            | ("right", "now")
            | ("at", "the")
            | ("in", "general")
            | ("for", "years")
            | ("a", "bit")
    )
}

#[rustfmt::skip]
fn item_reject_first(w: &str) -> bool {
    matches!(
        w,
        "it" | "this" | "that" | "these" | "those" | "them" | "him" | "her" | "you" | "u" | "me"
            | "us" | "everything" | "anything" | "nothing" | "something" | "everyone" | "anyone"
            | "someone" | "everybody" | "anybody" | "somebody" | "one" | "ones" | "how" | "what"
            | "why" | "whatever" | "my" | "your" | "his" | "our" | "their" | "its" | "here"
            | "there" | "way" | "idea" | "thing" | "things" | "stuff" | "fact" | "sound"
            | "look" | "feeling" | "plan" | "question" | "answer" | "suggestion" | "option"
            | "point" | "not" | "no" | "to" | "a" | "an" | "the" | "and" | "or" | "of" | "in"
            | "on" | "at" | "for" | "being" | "having" | "doing" | "getting" | "other"
            | "another" | "such" | "some" | "all" | "both"
    )
}

fn item_reject_any(w: &str) -> bool {
    matches!(
        w,
        "it" | "this" | "that" | "you" | "u" | "them" | "him" | "her" | "me" | "us"
    )
}

/// Splits `[a, b)` into list items at commas, "and", "or", "&", "plus" — but not inside
/// fixed pairs like "mac and cheese".
fn split_items(doc: &Doc<'_>, a: usize, b: usize, out: &mut Vec<R>) {
    let mut s = a;
    let mut k = a;
    while k < b {
        let t = &doc.toks[k];
        let n = doc.n(k);
        let sep = t.is_punct(',')
            || t.is_punct('&')
            || t.is_punct('/')
            || (t.is_word() && matches!(n, "and" | "or" | "plus" | "nor"))
            || (t.is_word() && n == "as" && w(doc, k + 1, b) == "well" && w(doc, k + 2, b) == "as");
        if sep {
            let pair_ok = k > a && k + 1 < b && lx::is_and_compound(doc.n(k - 1), doc.n(k + 1));
            if !(t.is_word() && n == "and" && pair_ok) {
                if k > s {
                    out.push(R { a: s, b: k });
                }
                k += if n == "as" { 3 } else { 1 };
                s = k;
                continue;
            }
        }
        k += 1;
    }
    if b > s {
        out.push(R { a: s, b });
    }
}

/// Where a free phrase ends: at a stop word or punctuation other than list separators.
fn phrase_end(doc: &Doc<'_>, i: usize, end: usize) -> usize {
    let mut k = i;
    while k < end {
        let t = &doc.toks[k];
        match t.kind {
            Kind::Word => {
                let n = doc.n(k);
                if phrase_stop(n) || (k + 1 < end && phrase_stop_pair(n, doc.n(k + 1))) {
                    break;
                }
            }
            Kind::Punct(',' | '&' | '/' | '-' | '\'' | '’') => {}
            _ => break,
        }
        k += 1;
    }
    // No dangling separators or conjunctions at the end.
    while k > i {
        let t = &doc.toks[k - 1];
        let n = doc.n(k - 1);
        if t.is_word() && !matches!(n, "and" | "or" | "plus" | "as") {
            break;
        }
        k -= 1;
    }
    k
}

/// A list of short noun phrases ("jazz and blues", "cats, dogs and horses"). Items that are
/// pronouns or vague ("that idea") are dropped.
pub(crate) fn phrases(doc: &Doc<'_>, i: usize, end: usize, out: &mut Vec<R>) {
    out.clear();
    let i = skip_open(doc, i, end);
    let e = phrase_end(doc, i, end);
    if e <= i || e - i > 14 {
        return;
    }
    split_items(doc, i, e, out);
    out.retain_mut(|r| {
        // Drop leading articles and determiners that carry no meaning here.
        while r.a < r.b && matches!(doc.n(r.a), "a" | "an" | "the" | "both" | "some" | "all") {
            if doc.n(r.a) == "all" && r.b - r.a == 1 {
                break;
            }
            r.a += 1;
        }
        while r.b > r.a && !doc.toks[r.b - 1].is_word() {
            r.b -= 1;
        }
        if r.a >= r.b || r.b - r.a > 6 {
            return false;
        }
        let first = doc.n(r.a);
        if first == "to" {
            // "I love to swim": the gerund is turned into an object by the caller.
            return r.b - r.a >= 2 && !item_reject_first(doc.n(r.a + 1));
        }
        if item_reject_first(first) {
            return false;
        }
        !(r.a..r.b).any(|k| item_reject_any(doc.n(k)))
    });
}

/// Object text of a list item, turning "to swim" into "swimming".
pub(crate) fn item_text(doc: &Doc<'_>, r: R) -> String {
    if doc.n(r.a) == "to" && r.b - r.a >= 2 {
        let verb = doc.s(r.a + 1);
        let mut s = gerund(verb);
        if r.b - r.a > 2 {
            s.push(' ');
            s.push_str(&join(doc, R { a: r.a + 2, b: r.b }));
        }
        return s;
    }
    join(doc, r)
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// English -ing form of a base verb, good enough for hobbies ("swim" → "swimming").
pub(crate) fn gerund(verb: &str) -> String {
    let lower = verb.to_ascii_lowercase();
    let b = lower.as_bytes();
    let n = b.len();
    let mut s = String::with_capacity(verb.len() + 4);
    if !verb.is_ascii() || n < 2 {
        s.push_str(verb);
        s.push_str("ing");
        return s;
    }
    if lower == "be" || lower == "see" || lower.ends_with("ee") || lower.ends_with("ye") {
        s.push_str(verb);
    } else if lower.ends_with("ie") {
        s.push_str(&verb[..n - 2]);
        s.push('y');
    } else if lower.ends_with('e') && !lower.ends_with("oe") {
        s.push_str(&verb[..n - 1]);
    } else {
        s.push_str(verb);
        let vowels = b.iter().filter(|&&c| is_vowel(c)).count();
        let last = b[n - 1];
        if n <= 4
            && vowels == 1
            && n >= 3
            && !is_vowel(last)
            && is_vowel(b[n - 2])
            && !is_vowel(b[n - 3])
            && !matches!(last, b'w' | b'x' | b'y')
        {
            s.push(last as char);
        }
    }
    s.push_str("ing");
    s
}

// ---------------------------------------------------------------- languages

/// Languages in a list ("English, French and a little German"), qualifiers stripped.
pub(crate) fn languages(doc: &Doc<'_>, i: usize, end: usize, out: &mut Vec<R>) {
    out.clear();
    let i = skip_open(doc, i, end);
    let mut e = i;
    while e < end {
        let t = &doc.toks[e];
        if t.is_word() {
            if matches!(
                doc.n(e),
                "fluently"
                    | "natively"
                    | "well"
                    | "fine"
                    | "at"
                    | "with"
                    | "since"
                    | "but"
                    | "because"
                    | "as"
                    | "now"
                    | "too"
                    | "pretty"
                    | "very"
                    | "when"
                    | "i"
                    | "though"
                    | "lol"
                    | "haha"
            ) {
                break;
            }
        } else if !t.is_punct(',') && !t.is_punct('&') && !t.is_punct('/') {
            break;
        }
        e += 1;
    }
    if e <= i || e - i > 16 {
        return;
    }
    split_items(doc, i, e, out);
    out.retain_mut(|r| {
        while r.a < r.b && (!doc.toks[r.a].is_word() || lx::is_language_qualifier(doc.n(r.a))) {
            r.a += 1;
        }
        while r.b > r.a && !doc.toks[r.b - 1].is_word() {
            r.b -= 1;
        }
        if r.a >= r.b || r.b - r.a > 3 {
            return false;
        }
        let head = doc.n(r.b - 1);
        let sign = head == "language" && r.b - r.a >= 2 && doc.n(r.b - 2) == "sign";
        if !lx::is_language(head) && !sign {
            return false;
        }
        // Words before the head must read as varieties ("Brazilian Portuguese").
        let last_mod = if sign { r.b - 2 } else { r.b - 1 };
        (r.a..last_mod).all(|k| {
            let n = doc.n(k);
            lx::is_demonym_or_creed(n)
                || matches!(
                    n,
                    "american"
                        | "standard"
                        | "modern"
                        | "classical"
                        | "ancient"
                        | "simplified"
                        | "traditional"
                        | "castilian"
                        | "levantine"
                        | "egyptian"
                        | "swiss"
                        | "old"
                        | "british"
                )
        })
    });
}

// ---------------------------------------------------------------- numbers, dates

fn age_follow_ok(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    if k >= end {
        return true;
    }
    let t = &doc.toks[k];
    match t.kind {
        Kind::Word => matches!(
            doc.n(k),
            "and"
                | "now"
                | "but"
                | "so"
                | "btw"
                | "lol"
                | "haha"
                | "today"
                | "already"
                | "too"
                | "as"
                | "myself"
                | "actually"
                | "though"
                | "going"
                | "turning"
                | "in"
                | "this"
        ),
        Kind::Punct(c) => !matches!(
            c,
            '%' | '\'' | '"' | '′' | '″' | '/' | ':' | '+' | '°' | '$'
        ),
        Kind::Newline => true,
    }
}

/// An age in years, 1..=120, as digits ("34", "twenty-one" → 21). Returns the value and
/// the token after it. Units after the number ("5 minutes", "6 feet") reject it.
pub(crate) fn age(doc: &Doc<'_>, i: usize, end: usize) -> Option<(u32, usize)> {
    let n = w(doc, i, end);
    let mut k = i + 1;
    let value = if is_number(n) && n.len() <= 3 {
        n.parse::<u32>().ok()?
    } else if let Some(v) = lx::number_word(n) {
        // "twenty one"
        if v >= 20 && v % 10 == 0 {
            if let Some(u) = lx::number_word(w(doc, k, end)).filter(|&u| u < 10) {
                k += 1;
                v + u
            } else {
                v
            }
        } else {
            v
        }
    } else {
        return None;
    };
    if !(1..=120).contains(&value) {
        return None;
    }
    match w(doc, k, end) {
        "years" | "year" | "yrs" | "yr" | "y" => {
            k += 1;
            match w(doc, k, end) {
                "old" | "young" => k += 1,
                "of" if w(doc, k + 1, end) == "age" => k += 2,
                "ago" | "younger" | "older" | "later" | "since" | "in" | "into" | "of" => {
                    return None
                }
                _ => {}
            }
        }
        "yo" | "y/o" | "y.o" | "year-old" | "years-old" => k += 1,
        _ => {}
    }
    if !age_follow_ok(doc, k, end) {
        return None;
    }
    Some((value, k))
}

fn day_of_month(w: &str) -> bool {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") || digits.is_empty() || digits.len() > 2 {
        return false;
    }
    is_number(digits) && digits.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

fn is_year(w: &str) -> bool {
    w.len() == 4 && is_number(w) && w.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y))
}

fn numeric_date(w: &str) -> bool {
    let sep = if w.contains('/') {
        '/'
    } else if w.contains('-') {
        '-'
    } else if w.contains('.') {
        '.'
    } else {
        return false;
    };
    let mut parts = [0u32; 3];
    let mut lens = [0usize; 3];
    let mut count = 0;
    for p in w.split(sep) {
        if count == 3 || p.is_empty() || p.len() > 4 || !is_number(p) {
            return false;
        }
        parts[count] = p.parse().unwrap_or(0);
        lens[count] = p.len();
        count += 1;
    }
    let dm = |a: u32, b: u32| (1..=31).contains(&a) && (1..=12).contains(&b);
    match count {
        2 => lens[0] <= 2 && lens[1] <= 2 && (dm(parts[0], parts[1]) || dm(parts[1], parts[0])),
        3 if lens[0] == 4 => dm(parts[2], parts[1]),
        3 if lens[0] <= 2 && lens[1] <= 2 && (lens[2] == 4 || lens[2] == 2) => {
            dm(parts[0], parts[1]) || dm(parts[1], parts[0])
        }
        _ => false,
    }
}

/// A calendar date with at least a day and a month: "March 13", "the 2nd of October",
/// "December 25th, 1985", "03/13", "1992-07-04". The range excludes "on"/"the".
pub(crate) fn date(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let mut k = i;
    if w(doc, k, end) == "on" {
        k += 1;
    }
    if w(doc, k, end) == "the" {
        k += 1;
    }
    let a = k;
    let first = w(doc, k, end);
    if numeric_date(first) {
        return Some(R { a, b: k + 1 });
    }
    if lx::month(first).is_some() {
        k += 1;
        if w(doc, k, end) == "the" {
            k += 1;
        }
        if !day_of_month(w(doc, k, end)) {
            return None;
        }
        k += 1;
    } else if day_of_month(first) {
        k += 1;
        if w(doc, k, end) == "of" {
            k += 1;
        }
        lx::month(w(doc, k, end))?;
        k += 1;
    } else {
        return None;
    }
    if is_year(w(doc, k, end)) {
        k += 1;
    } else if is_punct(doc, k, end, ',') && is_year(w(doc, k + 1, end)) {
        k += 2;
    }
    Some(R { a, b: k })
}

// ---------------------------------------------------------------- email, time zone

/// Shape check only: local@domain.tld with ASCII characters a mail server would accept.
pub(crate) fn valid_email(s: &str) -> bool {
    if s.len() > 254 || !s.is_ascii() {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || !local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-'))
    {
        return false;
    }
    let mut labels = 0;
    let mut last = "";
    for label in domain.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.bytes().all(|b| b.is_ascii_alphabetic())
}

pub(crate) fn email(doc: &Doc<'_>, i: usize, end: usize) -> Option<R> {
    let i = skip_open(doc, i, end);
    if !is_word(doc, i, end) {
        return None;
    }
    valid_email(doc.s(i)).then_some(R { a: i, b: i + 1 })
}

/// "UTC", "GMT+1", "UTC-05:00", "UTC+5:30".
fn utc_offset(s: &str) -> bool {
    let up = s.as_bytes();
    if up.len() < 3 {
        return false;
    }
    let head = &s[..3];
    if !head.eq_ignore_ascii_case("utc") && !head.eq_ignore_ascii_case("gmt") {
        return false;
    }
    let rest = &s[3..];
    if rest.is_empty() {
        return true;
    }
    let Some(sign_rest) = rest.strip_prefix(['+', '-']) else {
        return false;
    };
    let (h, m) = match sign_rest.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        None => (sign_rest, None),
    };
    let h_ok =
        !h.is_empty() && h.len() <= 2 && is_number(h) && h.parse::<u32>().is_ok_and(|v| v <= 14);
    let m_ok = m.is_none_or(|m| m.len() == 2 && is_number(m));
    h_ok && m_ok
}

fn iana(s: &str) -> bool {
    let Some((area, loc)) = s.split_once('/') else {
        return false;
    };
    lx::is_iana_area(&area.to_ascii_lowercase())
        && area.chars().next().is_some_and(char::is_uppercase)
        && !loc.is_empty()
        && loc
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/'))
}

/// A time zone: offset, abbreviation, IANA name or spelled-out zone ("Pacific time").
/// `loose` (after "my timezone is") also accepts a bare region word ("Eastern").
pub(crate) fn timezone(doc: &Doc<'_>, i: usize, end: usize, loose: bool) -> Option<R> {
    let mut i = skip_open(doc, i, end);
    if w(doc, i, end) == "the" {
        i += 1;
    }
    if !is_word(doc, i, end) {
        return None;
    }
    let s = doc.s(i);
    let n = doc.n(i);
    let t = &doc.toks[i];
    if utc_offset(s) && (t.has_upper || doc.case == CaseMode::Flat || loose) {
        return Some(R { a: i, b: i + 1 });
    }
    if lx::is_tz_abbrev(n) {
        let ambiguous = matches!(
            n,
            "art" | "eat" | "wat" | "west" | "et" | "pt" | "ct" | "mt"
        );
        let ok = t.all_caps()
            || (doc.case == CaseMode::Flat && !t.has_upper && !ambiguous)
            || (loose && !ambiguous);
        return ok.then_some(R { a: i, b: i + 1 });
    }
    if iana(s) {
        return Some(R { a: i, b: i + 1 });
    }
    let mut k = i;
    while k < end && k < i + 4 && lx::is_tz_region(w(doc, k, end)) {
        k += 1;
    }
    if k > i {
        if w(doc, k, end) == "time" {
            return Some(R { a: i, b: k + 1 });
        }
        if loose {
            return Some(R { a: i, b: k });
        }
    }
    None
}

// ---------------------------------------------------------------- diets

fn diet_follow_ok(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    if k >= end || !doc.toks[k].is_word() {
        return true;
    }
    matches!(
        doc.n(k),
        "now"
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
