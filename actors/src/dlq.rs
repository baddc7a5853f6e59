//! Dead-letter replay, the pure part: the JSON merge patch (RFC 7386) and the replay plan
//! (which payload, which outbox row, which event id), validated by the engine's own decoder.
//!
//! A replay always goes back through the outbox, so the relay republishes it and the worker's
//! exactly-once machinery applies it once. This module decides *what* to write; the store
//! (`src/postgres/dlq.rs`) gathers the facts it needs and writes it in one transaction. It
//! must never do I/O, read the clock or make a random id: the only id it makes is derived
//! (UUID v5 of the dead letter's id), so replaying the same letter twice can never yield two
//! events.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::decode::{decode_outbox_row, OutboxRow, Reason, Rejection};
use crate::plan::{Source, MAX_RAW_BYTES};

/// The namespace of replay event ids derived from a dead letter's id (UUID v5).
pub const REPLAY_NAMESPACE: Uuid = Uuid::from_u128(0x6d656d6c_696e_5b00_8000_646c71726570);

/// Applies a JSON merge patch (RFC 7386) to `target`, in place.
///
/// An object patch merges member by member (`null` removes a member, a non-object target is
/// first replaced by `{}`); any other patch replaces the target whole. Recursion is bounded by
/// the patch's depth, which `serde_json` caps when it parses untrusted input.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(obj) = target {
        for (name, value) in members {
            if value.is_null() {
                obj.remove(name);
            } else {
                merge_patch(obj.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// `target` with `patch` merged into it (RFC 7386).
pub fn merged(mut target: Value, patch: &Value) -> Value {
    merge_patch(&mut target, patch);
    target
}

/// A dead letter as far as a replay is concerned.
#[derive(Debug, Clone, Copy)]
pub struct ReplayLetter<'a> {
    pub id: Uuid,
    pub source: Source,
    /// The stream entry id, or the outbox row id.
    pub source_ref: &'a str,
    /// As received: may not be a UUID.
    pub event_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    /// The payload exactly as received, when it was kept.
    pub payload: Option<&'a [u8]>,
}

impl ReplayLetter<'_> {
    /// The outbox row an outbox-sourced letter came from.
    pub fn outbox_row_id(&self) -> Option<Uuid> {
        match self.source {
            Source::Outbox => Uuid::try_parse(self.source_ref).ok(),
            Source::Stream => None,
        }
    }

    /// The original event id, when it is a UUID (a candidate id for the replayed event).
    pub fn original_event_id(&self) -> Option<Uuid> {
        self.event_id.and_then(|s| Uuid::try_parse(s).ok())
    }

    /// The id a replay uses when the original event id cannot be reused: derived from the
    /// letter's id, so it is the same however often the replay is attempted.
    pub fn derived_event_id(&self) -> Uuid {
        Uuid::new_v5(&REPLAY_NAMESPACE, self.id.as_bytes())
    }

    /// The stored payload as JSON, or why it cannot be used.
    pub fn original_payload(&self) -> Result<Value, String> {
        let bytes = self.payload.ok_or_else(|| {
            format!(
                "no payload was kept for this dead letter (the input had none, or it was larger \
                 than {MAX_RAW_BYTES} bytes)"
            )
        })?;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            format!(
                "the stored payload is not UTF-8 (invalid at byte {})",
                e.valid_up_to()
            )
        })?;
        serde_json::from_str(text).map_err(|e| format!("the stored payload is not JSON ({e})"))
    }
}

/// What storage says about the ids a replay could use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayContext {
    /// For an outbox-sourced letter: its outbox row, if the row still exists.
    pub outbox_row: Option<ExistingRow>,
    /// Whether the letter's original event id (when a UUID) is used by no outbox row and no
    /// processed event.
    pub original_event_id_free: bool,
}

/// An outbox row that still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRow {
    pub id: Uuid,
    pub aggregate_id: String,
}

/// Where the replayed event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxWrite {
    /// The letter's own dead outbox row: its payload (and aggregate id) replaced, its status
    /// set back to `pending`.
    Reset { id: Uuid },
    /// A new outbox row.
    Insert { id: Uuid },
}

impl OutboxWrite {
    pub fn id(self) -> Uuid {
        match self {
            OutboxWrite::Reset { id } | OutboxWrite::Insert { id } => id,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxWrite::Reset { .. } => "reset",
            OutboxWrite::Insert { .. } => "inserted",
        }
    }
}

/// A replay the decoder accepts: exactly what to write to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayPlan {
    pub write: OutboxWrite,
    pub aggregate_id: String,
    pub event_type: String,
    /// The payload to publish (the original with the patch merged in).
    pub payload: Value,
    pub patched: bool,
}

impl ReplayPlan {
    /// The event id the replay publishes under (the outbox row id).
    pub fn event_id(&self) -> Uuid {
        self.write.id()
    }
}

/// Why a dead letter cannot be replayed as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayRefusal {
    /// The stored payload cannot be used and no patch replaces it: discard the letter, or
    /// replay it with a patch that is a complete payload.
    #[error("not replayable: {0}")]
    NotReplayable(String),
    /// The (patched) event would be refused by the decoder, with its reason.
    #[error("the replayed event would be refused: {0}")]
    Invalid(Rejection),
}

/// The payload a replay of `letter` would publish: the stored one with the patch merged in,
/// or (when the stored payload is missing or not JSON) the patch merged onto an empty object.
/// Not yet validated: [`plan_replay`] decides whether the decoder accepts it.
pub fn replay_payload(
    letter: &ReplayLetter<'_>,
    patch: Option<&Value>,
) -> Result<Value, ReplayRefusal> {
    match (letter.original_payload(), patch) {
        (Ok(value), Some(p)) => Ok(merged(value, p)),
        (Ok(value), None) => Ok(value),
        (Err(_), Some(p)) => Ok(merged(Value::Null, p)),
        (Err(why), None) => Err(ReplayRefusal::NotReplayable(format!(
            "{why}; discard it, or replay it with a patch that is the complete payload"
        ))),
    }
}

/// Plans the replay of `letter` with an optional merge `patch`.
///
/// - The payload is the stored one with the patch merged in. When the stored payload is
///   missing or not JSON, a patch is required and is merged onto an empty object, so it must
///   be the complete payload.
/// - An outbox-sourced letter whose row still exists resets that row. Its `aggregate_id` is
///   kept, unless the patch sets `chat_id` (or replaces the payload whole): then the
///   `aggregate_id` becomes the patched `chat_id`. So an unpatched replay re-runs exactly
///   what failed, and a patch that names `chat_id` states which chat the event belongs to.
/// - Otherwise a new row is inserted under the original event id when it is a UUID nobody
///   uses, else under [`ReplayLetter::derived_event_id`]; its `aggregate_id` is the payload's
///   `chat_id`.
/// - The result must pass [`decode_outbox_row`] (and hold no NUL character, which Postgres
///   `jsonb` cannot store).
pub fn plan_replay(
    letter: &ReplayLetter<'_>,
    patch: Option<&Value>,
    ctx: &ReplayContext,
) -> Result<ReplayPlan, ReplayRefusal> {
    let replaces_whole =
        letter.original_payload().is_err() || patch.is_some_and(|p| !p.is_object());
    let payload = replay_payload(letter, patch)?;
    if let Some(p) = patch {
        if let Some(path) = nul_path(p, "patch") {
            return Err(invalid(
                Reason::InvalidText,
                format!("{path}: contains a NUL character"),
            ));
        }
    }
    if let Some(path) = nul_path(&payload, "payload") {
        return Err(invalid(
            Reason::InvalidText,
            format!("{path}: contains a NUL character"),
        ));
    }
    let event_type = letter
        .event_type
        .ok_or_else(|| invalid(Reason::MissingField, "event_type: the dead letter has none"))?
        .to_owned();
    let payload_chat = payload
        .get("chat_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let patch_sets_chat = replaces_whole
        || patch
            .and_then(|p| p.get("chat_id"))
            .is_some_and(|v| !v.is_null());

    let (write, aggregate_id) = match (&ctx.outbox_row, letter.source) {
        (Some(row), Source::Outbox) => {
            let aggregate = match (&payload_chat, patch_sets_chat) {
                (Some(chat), true) => chat.clone(),
                _ => row.aggregate_id.clone(),
            };
            (OutboxWrite::Reset { id: row.id }, aggregate)
        }
        _ => {
            let id = match letter.original_event_id() {
                Some(id) if ctx.original_event_id_free => id,
                _ => letter.derived_event_id(),
            };
            (OutboxWrite::Insert { id }, payload_chat.unwrap_or_default())
        }
    };
    let row = OutboxRow {
        id: write.id(),
        aggregate_id,
        event_type,
        payload: payload.to_string(),
    };
    decode_outbox_row(&row).map_err(ReplayRefusal::Invalid)?;
    Ok(ReplayPlan {
        write,
        aggregate_id: row.aggregate_id,
        event_type: row.event_type,
        payload,
        patched: patch.is_some(),
    })
}

fn invalid(reason: Reason, detail: impl Into<String>) -> ReplayRefusal {
    ReplayRefusal::Invalid(Rejection::new(reason, detail))
}

/// The path of the first key or string holding a NUL character, if any.
fn nul_path(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, &format!("{path}[{i}]"))),
        Value::Object(members) => members.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                Some(format!("{path} (a key)"))
            } else {
                nul_path(x, &format!("{path}.{k}"))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CHAT: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    const OTHER_CHAT: &str = "1b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8";
    const MSG: &str = "5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23";
    const EVENT: &str = "0b6c3a43-7c4b-4bb7-9d7c-8a8a2a0c1d11";

    fn payload(created_at: Value) -> Vec<u8> {
        json!({"message_id": MSG, "chat_id": CHAT, "user_id": "u1", "role": "user",
               "content": "My name is Ana.", "created_at": created_at})
        .to_string()
        .into_bytes()
    }

    fn letter<'a>(
        source: Source,
        source_ref: &'a str,
        payload: Option<&'a [u8]>,
    ) -> ReplayLetter<'a> {
        ReplayLetter {
            id: Uuid::from_u128(7),
            source,
            source_ref,
            event_id: Some(EVENT),
            event_type: Some("message.created"),
            payload,
        }
    }

    fn free() -> ReplayContext {
        ReplayContext {
            outbox_row: None,
            original_event_id_free: true,
        }
    }

    /// RFC 7386, Appendix A: every example, verbatim.
    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
            (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
            (
                r#"{"a":{"b":"c"}}"#,
                r#"{"a":{"b":"d","c":null}}"#,
                r#"{"a":{"b":"d"}}"#,
            ),
            (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
            (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
            (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
            (r#"{"a":"foo"}"#, r#"null"#, r#"null"#),
            (r#"{"a":"foo"}"#, r#""bar""#, r#""bar""#),
            (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
            (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
            (
                r#"{}"#,
                r#"{"a":{"bb":{"ccc":null}}}"#,
                r#"{"a":{"bb":{}}}"#,
            ),
        ];
        for (target, patch, want) in cases {
            let t: Value = serde_json::from_str(target).unwrap();
            let p: Value = serde_json::from_str(patch).unwrap();
            let w: Value = serde_json::from_str(want).unwrap();
            assert_eq!(merged(t, &p), w, "{target} + {patch}");
        }
    }

    /// RFC 7386, section 3: the worked example.
    #[test]
    fn rfc7386_section_3_example() {
        let target = json!({
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged"
        });
        let patch = json!({
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": null},
            "tags": ["example"]
        });
        let want = json!({
            "title": "Hello!",
            "author": {"givenName": "John"},
            "tags": ["example"],
            "content": "This will be unchanged",
            "phoneNumber": "+01-123-456-7890"
        });
        assert_eq!(merged(target, &patch), want);
    }

    #[test]
    fn a_valid_stream_payload_replays_under_its_original_event_id() {
        let p = payload(json!(1769067099));
        let l = letter(Source::Stream, "1-0", Some(&p));
        let plan = plan_replay(&l, None, &free()).unwrap();
        assert_eq!(
            plan.write,
            OutboxWrite::Insert {
                id: Uuid::try_parse(EVENT).unwrap()
            }
        );
        assert_eq!(plan.aggregate_id, CHAT);
        assert_eq!(plan.event_type, "message.created");
        assert!(!plan.patched);
    }

    #[test]
    fn a_used_or_invalid_event_id_gives_the_derived_id_every_time() {
        let p = payload(json!(1769067099));
        let l = letter(Source::Stream, "1-0", Some(&p));
        let used = ReplayContext {
            original_event_id_free: false,
            ..free()
        };
        let a = plan_replay(&l, None, &used).unwrap();
        let b = plan_replay(&l, None, &used).unwrap();
        assert_eq!(a.event_id(), l.derived_event_id());
        assert_eq!(a.event_id(), b.event_id());
        assert_ne!(a.event_id(), Uuid::try_parse(EVENT).unwrap());
        let legacy = ReplayLetter {
            event_id: Some("chat-1769035355992"),
            ..l
        };
        assert_eq!(
            plan_replay(&legacy, None, &free()).unwrap().event_id(),
            l.derived_event_id()
        );
        let other = ReplayLetter {
            id: Uuid::from_u128(8),
            ..legacy
        };
        assert_ne!(other.derived_event_id(), legacy.derived_event_id());
    }

    #[test]
    fn an_invalid_payload_is_refused_unless_a_patch_fixes_it() {
        let p = payload(json!("yesterday"));
        let l = letter(Source::Stream, "1-0", Some(&p));
        match plan_replay(&l, None, &free()) {
            Err(ReplayRefusal::Invalid(r)) => assert_eq!(r.reason, Reason::InvalidTimestamp),
            other => panic!("{other:?}"),
        }
        let patch = json!({"created_at": 1769067099});
        let plan = plan_replay(&l, Some(&patch), &free()).unwrap();
        assert_eq!(plan.payload["created_at"], json!(1769067099));
        assert_eq!(plan.payload["content"], json!("My name is Ana."));
        assert!(plan.patched);
    }

    #[test]
    fn a_missing_or_unparsable_payload_needs_a_complete_replacement() {
        for stored in [None, Some(&b"{not json"[..]), Some(&b"\xff\xfe"[..])] {
            let l = letter(Source::Stream, "1-0", stored);
            match plan_replay(&l, None, &free()) {
                Err(ReplayRefusal::NotReplayable(why)) => assert!(why.contains("discard"), "{why}"),
                other => panic!("{other:?}"),
            }
            let partial = json!({"created_at": 1769067099});
            match plan_replay(&l, Some(&partial), &free()) {
                Err(ReplayRefusal::Invalid(r)) => assert_eq!(r.reason, Reason::MissingField),
                other => panic!("{other:?}"),
            }
            let full: Value = serde_json::from_slice(&payload(json!(1769067099))).unwrap();
            assert!(plan_replay(&l, Some(&full), &free()).is_ok());
        }
    }

    #[test]
    fn an_outbox_row_is_reset_and_keeps_its_aggregate_unless_the_patch_names_chat_id() {
        let row_id = Uuid::from_u128(99);
        let p = json!({"message_id": MSG, "chat_id": "chat-1769035355992", "user_id": "u1",
                       "role": "user", "content": "hi", "created_at": 1769067099})
        .to_string()
        .into_bytes();
        let source_ref = row_id.to_string();
        let l = letter(Source::Outbox, &source_ref, Some(&p));
        let ctx = ReplayContext {
            outbox_row: Some(ExistingRow {
                id: row_id,
                aggregate_id: "chat-1769035355992".into(),
            }),
            original_event_id_free: false,
        };
        assert!(matches!(
            plan_replay(&l, None, &ctx),
            Err(ReplayRefusal::Invalid(r)) if r.reason == Reason::InvalidUuid
        ));
        let patch = json!({"chat_id": CHAT});
        let plan = plan_replay(&l, Some(&patch), &ctx).unwrap();
        assert_eq!(plan.write, OutboxWrite::Reset { id: row_id });
        assert_eq!(plan.aggregate_id, CHAT);

        // A patch that leaves chat_id alone keeps the row's aggregate: a mismatch stays one.
        let mismatched = ReplayContext {
            outbox_row: Some(ExistingRow {
                id: row_id,
                aggregate_id: OTHER_CHAT.into(),
            }),
            original_event_id_free: false,
        };
        let ok_payload = payload(json!(1769067099));
        let l = letter(Source::Outbox, &source_ref, Some(&ok_payload));
        let patch = json!({"content": "hello"});
        assert!(matches!(
            plan_replay(&l, Some(&patch), &mismatched),
            Err(ReplayRefusal::Invalid(r)) if r.reason == Reason::AggregateMismatch
        ));
        // Naming chat_id (even with its current value) states which chat the event is for.
        let patch = json!({"chat_id": CHAT});
        let plan = plan_replay(&l, Some(&patch), &mismatched).unwrap();
        assert_eq!(plan.aggregate_id, CHAT);
    }

    #[test]
    fn an_outbox_letter_whose_row_is_gone_inserts_a_row() {
        let p = payload(json!(1769067099));
        let l = letter(Source::Outbox, EVENT, Some(&p));
        let plan = plan_replay(&l, None, &free()).unwrap();
        assert_eq!(
            plan.write,
            OutboxWrite::Insert {
                id: Uuid::try_parse(EVENT).unwrap()
            }
        );
        assert_eq!(l.outbox_row_id(), Uuid::try_parse(EVENT).ok());
    }

    #[test]
    fn nul_characters_and_missing_event_types_are_refused() {
        let p = payload(json!(1769067099));
        let l = letter(Source::Stream, "1-0", Some(&p));
        let patch = json!({"extra": {"k": "a\u{0}b"}});
        match plan_replay(&l, Some(&patch), &free()) {
            Err(ReplayRefusal::Invalid(r)) => {
                assert_eq!(r.reason, Reason::InvalidText);
                assert!(r.detail.contains("patch.extra.k"), "{}", r.detail);
            }
            other => panic!("{other:?}"),
        }
        let untyped = ReplayLetter {
            event_type: None,
            ..l
        };
        assert!(matches!(
            plan_replay(&untyped, None, &free()),
            Err(ReplayRefusal::Invalid(r)) if r.reason == Reason::MissingField
        ));
        let unknown = ReplayLetter {
            event_type: Some("message.deleted"),
            ..l
        };
        assert!(matches!(
            plan_replay(&unknown, None, &free()),
            Err(ReplayRefusal::Invalid(r)) if r.reason == Reason::UnknownEventType
        ));
    }
}
