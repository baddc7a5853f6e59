//! Email addresses and time zones, checked by shape. It must never accept a lowercase
//! abbreviation that is also an English word ("art", "eat") as a time zone outside flat text.

use super::super::lexicon as lx;
use super::super::text::{CaseMode, Doc};
use super::*;

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
pub(crate) fn utc_offset(s: &str) -> bool {
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

pub(crate) fn iana(s: &str) -> bool {
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
