//! The dead-letter filter as the console's forms and links carry it: raw text fields in, a
//! validated [`BulkFilter`] (the one the store's list, count and bulk actions share) out, and
//! back into query strings, hidden fields and words.
//!
//! Parsing only: it must never decide which letters match (that is one SQL predicate, in
//! [`crate::postgres::dlq`]).

use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use crate::postgres::dlq::{BulkFilter, Cursor, LetterStatus};

/// The longest text a filter field takes.
const MAX_FIELD_CHARS: usize = 256;

/// The filter fields exactly as a form sent them (empty means "any").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FilterForm {
    pub reason: String,
    pub event_type: String,
    pub chat_id: String,
    pub user_id: String,
    pub text: String,
    pub since: String,
    pub until: String,
    /// `dead` (the default), `replayed`, `discarded` or `any`: listing only; a bulk action
    /// always takes `dead` letters.
    pub status: String,
}

/// What the list shows: a status, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChoice {
    Only(LetterStatus),
    Any,
}

impl StatusChoice {
    pub fn status(self) -> Option<LetterStatus> {
        match self {
            StatusChoice::Only(s) => Some(s),
            StatusChoice::Any => None,
        }
    }
}

/// "2026-01-02T10:00:00Z" (RFC 3339), or a browser's `datetime-local` value
/// ("2026-01-02T10:00", read as UTC), or the same with a space.
pub fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

fn text(field: &str, raw: &str, errors: &mut Vec<String>) -> Option<String> {
    let v = raw.trim();
    if v.is_empty() {
        return None;
    }
    if v.chars().count() > MAX_FIELD_CHARS || v.contains('\0') {
        errors.push(format!(
            "{field}: at most {MAX_FIELD_CHARS} characters, and no NUL"
        ));
        return None;
    }
    Some(v.to_owned())
}

impl FilterForm {
    /// The filter and status, or every problem with the fields.
    pub fn parse(&self) -> Result<(BulkFilter, StatusChoice), Vec<String>> {
        let mut errors = Vec::new();
        let chat_id = match self.chat_id.trim() {
            "" => None,
            s => Uuid::try_parse(s)
                .map_err(|_| errors.push(format!("chat: {:?} is not a UUID", clip(s))))
                .ok(),
        };
        let mut instant = |field: &str, raw: &str| match raw.trim() {
            "" => None,
            s => parse_instant(s)
                .ok_or_else(|| {
                    errors.push(format!(
                        "{field}: {:?} is not a date and time (e.g. 2026-01-02T10:00:00Z)",
                        clip(s)
                    ))
                })
                .ok(),
        };
        let since = instant("from", &self.since);
        let until = instant("until", &self.until);
        let status = match self.status.trim() {
            "" | "dead" => StatusChoice::Only(LetterStatus::Dead),
            "any" => StatusChoice::Any,
            s => match LetterStatus::parse(s) {
                Some(st) => StatusChoice::Only(st),
                None => {
                    errors.push("status: one of dead, replayed, discarded, any".to_owned());
                    StatusChoice::Any
                }
            },
        };
        let filter = BulkFilter {
            reason: text("reason", &self.reason, &mut errors),
            chat_id,
            since,
            until,
            event_type: text("event type", &self.event_type, &mut errors),
            user_id: text("user", &self.user_id, &mut errors),
            text: text("payload text", &self.text, &mut errors),
            all: false,
        };
        if errors.is_empty() {
            Ok((filter, status))
        } else {
            Err(errors)
        }
    }

    /// The fields as query pairs (empty ones are left out by [`super::html::url_with`]).
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("reason", self.reason.trim()),
            ("event_type", self.event_type.trim()),
            ("chat_id", self.chat_id.trim()),
            ("user_id", self.user_id.trim()),
            ("text", self.text.trim()),
            ("since", self.since.trim()),
            ("until", self.until.trim()),
            ("status", self.status.trim()),
        ]
    }

    /// The filter (status aside) as hidden fields of a confirmation form.
    pub fn hidden(&self) -> Markup {
        html! {
            @for (k, v) in self.pairs() {
                @if k != "status" && !v.is_empty() {
                    input type="hidden" name=(k) value=(v);
                }
            }
        }
    }
}

/// The filter in words, for confirmations and job pages.
pub fn describe(f: &BulkFilter) -> String {
    let mut parts = Vec::new();
    let t = |d: &DateTime<Utc>| super::html::fmt_time(d);
    if let Some(v) = &f.reason {
        parts.push(format!("reason {v}"));
    }
    if let Some(v) = &f.event_type {
        parts.push(format!("event type {v}"));
    }
    if let Some(v) = &f.chat_id {
        parts.push(format!("chat {v}"));
    }
    if let Some(v) = &f.user_id {
        parts.push(format!("user {v}"));
    }
    if let Some(v) = &f.text {
        parts.push(format!("payload contains {v:?}"));
    }
    if let Some(v) = &f.since {
        parts.push(format!("received from {}", t(v)));
    }
    if let Some(v) = &f.until {
        parts.push(format!("received before {}", t(v)));
    }
    if parts.is_empty() {
        "every dead letter (no filter)".to_owned()
    } else {
        parts.join(", ")
    }
}

/// A page boundary in a URL: `<microseconds since the epoch>_<letter id>`.
pub fn cursor_param(received_at: &DateTime<Utc>, id: &Uuid) -> String {
    format!("{}_{id}", received_at.timestamp_micros())
}

pub fn parse_cursor(raw: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = raw.split_once('_')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, Uuid::try_parse(id).ok()?))
}

/// `before=` (older page) wins over `after=` (newer page); a malformed one is ignored.
pub fn cursor(before: Option<&str>, after: Option<&str>) -> Option<Cursor> {
    match (before.and_then(parse_cursor), after.and_then(parse_cursor)) {
        (Some((t, id)), _) => Some(Cursor::Older(t, id)),
        (None, Some((t, id))) => Some(Cursor::Newer(t, id)),
        _ => None,
    }
}

fn clip(s: &str) -> String {
    super::html::clip(s, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_the_store_filter() {
        let form = FilterForm {
            reason: " invalid_role ".into(),
            user_id: "bob".into(),
            text: "Lisbon".into(),
            since: "2026-01-02T10:00".into(),
            until: "2026-01-03T10:00:00+02:00".into(),
            status: "any".into(),
            ..FilterForm::default()
        };
        let (f, status) = form.parse().unwrap();
        assert_eq!(f.reason.as_deref(), Some("invalid_role"));
        assert_eq!(f.user_id.as_deref(), Some("bob"));
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-01-02T10:00:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-01-03T08:00:00+00:00");
        assert_eq!(status, StatusChoice::Any);
        assert!(f.narrows() && !f.all);
        assert_eq!(
            describe(&f),
            "reason invalid_role, user bob, payload contains \"Lisbon\", received from 2026-01-02 10:00:00Z, received before 2026-01-03 08:00:00Z"
        );
        let (empty, status) = FilterForm::default().parse().unwrap();
        assert!(!empty.narrows());
        assert_eq!(status, StatusChoice::Only(LetterStatus::Dead));
        assert_eq!(describe(&empty), "every dead letter (no filter)");
    }

    #[test]
    fn bad_fields_are_all_reported() {
        let form = FilterForm {
            chat_id: "nope".into(),
            since: "yesterday".into(),
            status: "gone".into(),
            text: "x".repeat(300),
            ..FilterForm::default()
        };
        let errors = form.parse().unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_ignored() {
        let t = parse_instant("2026-01-02T10:00:00.123456Z").unwrap();
        let id = Uuid::new_v4();
        let p = cursor_param(&t, &id);
        assert_eq!(parse_cursor(&p), Some((t, id)));
        assert_eq!(cursor(Some(&p), None), Some(Cursor::Older(t, id)));
        assert_eq!(cursor(None, Some(&p)), Some(Cursor::Newer(t, id)));
        assert_eq!(cursor(Some("x_y"), None), None);
        assert_eq!(parse_cursor("12"), None);
    }
}
