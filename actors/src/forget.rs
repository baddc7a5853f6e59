//! Forgetting beyond the memory graph: what of an outbox payload, a dead letter or its audit
//! rows survives a forget (ids and metadata, never text), and which stream entries carry a
//! forgotten event.
//!
//! Pure: the store reads the rows, calls these functions and writes what they return; the
//! broker adapter fetches the candidate entries and deletes the ones [`erasable_entries`]
//! names. It must never keep a byte of a message's text in what it returns, and never name an
//! entry whose `event_id` is not the one recorded for it (an id of another stream is not ours
//! to delete).

use serde_json::{Map, Value};

use uuid::Uuid;

use crate::decode::{decode_outbox_row, OutboxRow, RawEntry};
use crate::domain::{Event, MessageCreated, Role};
use crate::plan::DeadLetter;

/// What a forgotten text is replaced with. Not empty, so a redacted outbox row still pending
/// decodes, is published, and is then dropped by the worker for its tombstone (an empty
/// content would be dead-lettered as `empty_field` instead).
pub const REDACTED: &str = "[forgotten]";

/// The payload members a redacted `message.created` payload keeps, when they are ids or
/// times (never free text).
const KEPT_IDS: [&str; 3] = ["message_id", "chat_id", "user_id"];

/// A payload with every text removed: ids, the role (when it is one) and the time stay, the
/// content becomes [`REDACTED`], and any other member goes. A payload that is not an object
/// (a malformed one) becomes [`REDACTED`] as a JSON string.
pub fn redact_payload(payload: &Value) -> Value {
    let Value::Object(members) = payload else {
        return Value::String(REDACTED.to_owned());
    };
    let mut out = Map::new();
    for key in KEPT_IDS {
        // A user id is kept whatever it is: a later forget finds the row by it.
        if let Some(v @ Value::String(_)) = members.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(Value::String(role)) = members.get("role") {
        if Role::parse(role).is_some() {
            out.insert("role".to_owned(), Value::String(role.clone()));
        }
    }
    if let Some(t @ (Value::String(_) | Value::Number(_))) = members.get("created_at") {
        // A malformed created_at string could hold anything: only what looks like a time stays.
        if t.as_str().is_none_or(looks_like_time) {
            out.insert("created_at".to_owned(), t.clone());
        }
    }
    out.insert("content".to_owned(), Value::String(REDACTED.to_owned()));
    Value::Object(out)
}

/// The redacted outbox payload of an event the worker drops for a forgotten user or message
/// (its row, if it came through the outbox, keeps no text either).
pub fn redacted_event_payload(m: &MessageCreated) -> Value {
    redact_payload(&serde_json::json!({
        "message_id": m.message_id,
        "chat_id": m.chat_id,
        "user_id": m.user_id,
        "role": m.role,
        "created_at": m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }))
}

/// The user a dead letter's payload names (its `user_id` member), if it names one.
pub fn letter_user(d: &DeadLetter) -> Option<String> {
    let payload = d.payload.as_deref()?;
    serde_json::from_slice::<Value>(payload)
        .ok()?
        .get("user_id")?
        .as_str()
        .map(str::to_owned)
}

/// Dead letters of forgotten users keep no text, as a forget would have left them (a
/// malformed event for a user who is gone arrives after the forget): `raw`, `payload` and
/// the quoted values of `detail` are redacted; the rest stays. Returns the positions of the
/// letters redacted (their stream entries, once acked, are deleted too; their outbox rows are
/// redacted with them).
pub fn redact_letters_of_forgotten(
    letters: &mut [DeadLetter],
    forgotten: &std::collections::HashSet<String>,
) -> Vec<usize> {
    let mut redacted = Vec::new();
    for (i, d) in letters.iter_mut().enumerate() {
        if letter_user(d).is_some_and(|u| forgotten.contains(&u)) {
            d.raw = redacted_raw();
            d.payload = d.payload.as_deref().map(redact_payload_bytes);
            d.detail = redact_detail(&d.detail);
            redacted.push(i);
        }
    }
    redacted
}

/// Digits and the punctuation of RFC 3339, short: no word fits.
fn looks_like_time(s: &str) -> bool {
    s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_digit() || "-:.+TZtz ".contains(c))
}

/// [`redact_payload`] for bytes as received (a dead letter's payload or an audit row's): JSON
/// is redacted member by member, anything else is replaced whole.
pub fn redact_payload_bytes(payload: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(v) => redact_payload(&v).to_string().into_bytes(),
        Err(_) => Value::String(REDACTED.to_owned()).to_string().into_bytes(),
    }
}

/// A replay's JSON merge patch once forgotten: the members it set stay named (so the audit
/// still says what was patched), ids and times keep their values, any text becomes
/// [`REDACTED`].
pub fn redact_patch(patch: &Value) -> Value {
    let Value::Object(members) = patch else {
        return Value::String(REDACTED.to_owned());
    };
    let kept = |k: &str| KEPT_IDS.contains(&k) || k == "created_at";
    Value::Object(
        members
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(_) if kept(k) => v.clone(),
                    Value::Null | Value::Bool(_) | Value::Number(_) => v.clone(),
                    _ => Value::String(REDACTED.to_owned()),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// Whether a payload as received (bytes) names this message (its `message_id` member).
pub fn payload_names_message(payload: &[u8], message_id: &str) -> bool {
    serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("message_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|m| m.eq_ignore_ascii_case(message_id))
}

/// A dead letter's raw input once forgotten: only that it was redacted (`raw_len` keeps the
/// size it had).
pub fn redacted_raw() -> Vec<u8> {
    REDACTED.as_bytes().to_vec()
}

/// A dead letter's detail once forgotten: the field and the reason stay, every quoted value
/// (details quote the offending value, `chat_id: "chat-1" is not a UUID`) is replaced.
pub fn redact_detail(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    let mut rest = detail;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = quoted_end(after);
        out.push('"');
        out.push_str(REDACTED);
        out.push('"');
        rest = match end {
            Some(e) => &after[e + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The byte index of the closing quote of a `{:?}`-quoted string, skipping escapes.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// The processed record a forget writes for a forgotten user's event that was relayed but not
/// yet processed, before deleting its stream entry: the worker would have recorded it and
/// stored nothing (the tombstone), and with the entry gone no worker ever will. Recorded with
/// the digest the worker computes, so a worker already holding the entry finds a duplicate,
/// and the reconciler sees the event settled. `None` for a row that does not decode (it
/// would have been dead-lettered, never relayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledByForget {
    pub event_id: Uuid,
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub digest: [u8; 32],
}

pub fn settled_by_forget(row: &OutboxRow) -> Option<SettledByForget> {
    let Ok(Event::MessageCreated(m)) = decode_outbox_row(row) else {
        return None;
    };
    Some(SettledByForget {
        event_id: m.event_id.0,
        message_id: m.message_id.0,
        chat_id: m.chat_id.0,
        digest: crate::plan::digest(&m),
    })
}

/// A stream entry that may carry a forgotten event: where it was recorded (the outbox row's
/// stream id, the processed event's entry, a stream dead letter's source) and for which event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryCandidate {
    pub entry_id: String,
    pub event_id: String,
}

/// Of the candidates, the entries to delete: those the stream still holds whose `event_id`
/// field is the one recorded (an entry id recorded on another stream names someone else's
/// entry here). `fetched` is, per candidate in order, the entry the stream holds under its id.
pub fn erasable_entries(
    candidates: &[EntryCandidate],
    fetched: &[Option<RawEntry>],
) -> Vec<String> {
    let mut out: Vec<String> = candidates
        .iter()
        .zip(fetched)
        .filter_map(|(c, e)| {
            let e = e.as_ref()?;
            (e.id == c.entry_id && e.field_lossy("event_id").as_deref() == Some(&c.event_id))
                .then(|| c.entry_id.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_payload_keeps_ids_and_time_and_loses_every_text() {
        let p = json!({"message_id": "m", "chat_id": "c", "user_id": "zoe", "role": "user",
                       "content": "secret words", "created_at": 1769067099, "extra": "secret"});
        let r = redact_payload(&p);
        assert_eq!(
            r,
            json!({"message_id": "m", "chat_id": "c", "user_id": "zoe", "role": "user",
                   "content": REDACTED, "created_at": 1769067099})
        );
        // A role that is not one is free text too.
        let r = redact_payload(&json!({"user_id": "zoe", "role": "secret", "content": 3}));
        assert_eq!(r, json!({"user_id": "zoe", "content": REDACTED}));
        assert_eq!(redact_payload(&json!(["secret"])), json!(REDACTED));
        let r = redact_payload(&json!({"created_at": "when secret"}));
        assert!(!r.to_string().contains("secret"));
        let t = json!({"created_at": "2026-01-22T07:31:39.568Z"});
        assert_eq!(redact_payload(&t)["created_at"], t["created_at"]);
    }

    #[test]
    fn bytes_that_are_not_json_are_replaced_whole() {
        assert_eq!(
            redact_payload_bytes(b"{not json secret"),
            format!("\"{REDACTED}\"").into_bytes()
        );
        let r = redact_payload_bytes(br#"{"user_id":"zoe","content":"secret"}"#);
        assert!(!String::from_utf8(r).unwrap().contains("secret"));
    }

    #[test]
    fn a_detail_keeps_its_reason_and_loses_quoted_values() {
        assert_eq!(
            redact_detail(r#"chat_id: "secret \"x\" y" is not a UUID"#),
            format!("chat_id: \"{REDACTED}\" is not a UUID")
        );
        assert_eq!(
            redact_detail("payload: field absent"),
            "payload: field absent"
        );
        assert_eq!(
            redact_detail(r#"role: "unterminated secret"#),
            format!("role: \"{REDACTED}\"")
        );
    }

    #[test]
    fn a_patch_keeps_its_shape_and_loses_its_text() {
        let p = json!({"created_at": 1769067099, "content": "secret", "chat_id": "c", "x": {"y": "secret"}});
        assert_eq!(
            redact_patch(&p),
            json!({"created_at": 1769067099, "content": REDACTED, "chat_id": "c", "x": REDACTED})
        );
        assert!(payload_names_message(br#"{"message_id":"AB"}"#, "ab"));
        assert!(!payload_names_message(b"nope", "ab"));
    }

    #[test]
    fn a_relayed_event_is_settled_with_the_digest_the_worker_records() {
        let payload = json!({"message_id": "5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23",
            "chat_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "user_id": "u1", "role": "user",
            "content": "I live in Porto.", "created_at": 1769067099});
        let row = OutboxRow {
            id: Uuid::from_u128(7),
            aggregate_id: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d".into(),
            event_type: "message.created".into(),
            payload: payload.to_string(),
        };
        let s = settled_by_forget(&row).expect("decodes");
        let Ok(Event::MessageCreated(m)) = decode_outbox_row(&row) else {
            panic!("valid")
        };
        let planned = crate::plan::plan_message(m, &crate::testkit::ambient());
        assert_eq!(s.digest, planned.digest);
        assert_eq!(s.event_id, Uuid::from_u128(7));
        let bad = OutboxRow {
            payload: "{}".into(),
            ..row
        };
        assert_eq!(settled_by_forget(&bad), None);
    }

    #[test]
    fn letters_of_forgotten_users_lose_their_text() {
        let letter = |user: &str| DeadLetter {
            id: Uuid::from_u128(1),
            source: crate::plan::Source::Stream,
            source_ref: "1-0".into(),
            event_id: None,
            event_type: None,
            reason: crate::decode::Reason::InvalidTimestamp,
            detail: "created_at: \"secret\" is not a date".into(),
            raw: b"payload={secret}".to_vec(),
            raw_len: 16,
            payload: Some(
                json!({"user_id": user, "content": "secret", "created_at": "secret"})
                    .to_string()
                    .into_bytes(),
            ),
            delivery_count: 1,
            actor: "worker",
            received_at: chrono::DateTime::<chrono::Utc>::default(),
        };
        let mut letters = vec![letter("gone"), letter("here")];
        let forgotten = ["gone".to_owned()].into_iter().collect();
        assert_eq!(
            redact_letters_of_forgotten(&mut letters, &forgotten),
            vec![0]
        );
        let text = |d: &DeadLetter| {
            format!(
                "{} {} {}",
                d.detail,
                String::from_utf8_lossy(&d.raw),
                String::from_utf8_lossy(d.payload.as_deref().unwrap_or_default())
            )
        };
        assert!(
            !text(&letters[0]).contains("secret"),
            "{}",
            text(&letters[0])
        );
        assert_eq!(letter_user(&letters[0]).as_deref(), Some("gone"));
        assert_eq!(letters[0].raw_len, 16);
        assert!(text(&letters[1]).contains("secret"));
    }

    fn entry(id: &str, event: &str) -> RawEntry {
        RawEntry {
            id: id.into(),
            fields: vec![(b"event_id".to_vec(), event.as_bytes().to_vec())],
        }
    }

    #[test]
    fn only_entries_holding_the_recorded_event_are_erased() {
        let c = |e: &str, ev: &str| EntryCandidate {
            entry_id: e.into(),
            event_id: ev.into(),
        };
        let candidates = [c("1-0", "a"), c("2-0", "b"), c("3-0", "c"), c("1-0", "a")];
        let fetched = [
            Some(entry("1-0", "a")),
            // Recorded on another stream: here that id is someone else's event.
            Some(entry("2-0", "other")),
            None,
            Some(entry("1-0", "a")),
        ];
        assert_eq!(erasable_entries(&candidates, &fetched), vec!["1-0"]);
    }
}
