//! Ages and calendar dates. It must never read a measure ("5 minutes", "6 feet") as an age.

use super::super::lexicon as lx;
use super::super::text::{Doc, TokenKind};
use super::*;

// ---------------------------------------------------------------- numbers, dates

pub(crate) fn age_follow_ok(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    if k >= end {
        return true;
    }
    let t = &doc.toks[k];
    match t.kind {
        TokenKind::Word => matches!(
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
        TokenKind::Punct(c) => !matches!(
            c,
            '%' | '\'' | '"' | '′' | '″' | '/' | ':' | '+' | '°' | '$'
        ),
        TokenKind::Newline => true,
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

pub(crate) fn day_of_month(w: &str) -> bool {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") || digits.is_empty() || digits.len() > 2 {
        return false;
    }
    is_number(digits) && digits.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

pub(crate) fn is_year(w: &str) -> bool {
    w.len() == 4 && is_number(w) && w.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y))
}

pub(crate) fn numeric_date(w: &str) -> bool {
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
        // "Sept. 8": the abbreviation's dot.
        if k < end && doc.toks[k].is_punct('.') && doc.toks[k].start == doc.toks[k - 1].end {
            k += 1;
        }
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
