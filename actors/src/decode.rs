//! Boundary decoding: raw stream entries and outbox rows become typed [`Event`]s or a typed
//! [`Rejection`] with a machine-readable [`Reason`].
//!
//! This is the only place that looks at untrusted bytes. It must never panic, never do I/O,
//! and never let a malformed id, a float timestamp or an oversized text past it: everything
//! downstream works on [`crate::domain`] types. Every rejection here is deterministic (the same
//! bytes are rejected the same way forever), so callers dead-letter on the first failure.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::{
    ChatId, Content, Event, EventId, EventType, MessageCreated, MessageId, Role, TextError, UserId,
    MAX_CONTENT_BYTES,
};

/// Largest payload accepted before parsing: the content limit plus room for the other fields
/// and JSON escaping. Checked first so a 10 MB entry costs nothing to reject.
pub const MAX_PAYLOAD_BYTES: usize = MAX_CONTENT_BYTES * 6 + 4_096;

/// Epoch numbers at or above this are milliseconds; below, seconds (seconds would reach it
/// only in the year 5138, milliseconds only before 1973-03-03). One rule for every number,
/// integer or not, whatever its spelling: `1e11` on the stream and `100000000000` read back
/// from a `jsonb` column are the same instant.
pub const EPOCH_MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Deepest JSON nesting a payload may have: serde_json refuses the 128th level. Checked before
/// parsing, so a deep payload is named for what it is rather than as a parse error.
pub const MAX_PAYLOAD_DEPTH: usize = 127;

/// Machine-readable reasons a message is dead-lettered. The strings are a public contract
/// (alerts and the admin API match them): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    InvalidUuid,
    InvalidTimestamp,
    InvalidJson,
    PayloadTooDeep,
    PayloadUnreadable,
    InvalidType,
    MissingField,
    EmptyField,
    UnknownEventType,
    PayloadTooLarge,
    InvalidText,
    InvalidUtf8,
    InvalidRole,
    AggregateMismatch,
    DuplicateEventId,
    MessageIdConflict,
    StoreRejected,
    Panic,
    MaxDeliveries,
    CrashedProcess,
    RetriesExhausted,
}

impl Reason {
    pub const ALL: [Reason; 21] = [
        Reason::InvalidUuid,
        Reason::InvalidTimestamp,
        Reason::InvalidJson,
        Reason::PayloadTooDeep,
        Reason::PayloadUnreadable,
        Reason::InvalidType,
        Reason::MissingField,
        Reason::EmptyField,
        Reason::UnknownEventType,
        Reason::PayloadTooLarge,
        Reason::InvalidText,
        Reason::InvalidUtf8,
        Reason::InvalidRole,
        Reason::AggregateMismatch,
        Reason::DuplicateEventId,
        Reason::MessageIdConflict,
        Reason::StoreRejected,
        Reason::Panic,
        Reason::MaxDeliveries,
        Reason::CrashedProcess,
        Reason::RetriesExhausted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidUuid => "invalid_uuid",
            Reason::InvalidTimestamp => "invalid_timestamp",
            Reason::InvalidJson => "invalid_json",
            Reason::PayloadTooDeep => "payload_too_deep",
            Reason::PayloadUnreadable => "payload_unreadable",
            Reason::InvalidType => "invalid_type",
            Reason::MissingField => "missing_field",
            Reason::EmptyField => "empty_field",
            Reason::UnknownEventType => "unknown_event_type",
            Reason::PayloadTooLarge => "payload_too_large",
            Reason::InvalidText => "invalid_text",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::InvalidRole => "invalid_role",
            Reason::AggregateMismatch => "aggregate_mismatch",
            Reason::DuplicateEventId => "duplicate_event_id",
            Reason::MessageIdConflict => "message_id_conflict",
            Reason::StoreRejected => "store_rejected",
            Reason::Panic => "panic",
            Reason::MaxDeliveries => "max_deliveries",
            Reason::CrashedProcess => "crashed_process",
            Reason::RetriesExhausted => "retries_exhausted",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input was refused: a reason code and a human detail naming the field and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

/// The field a rejection's detail names: details are written `"<field>: <why>"` (the field
/// as the producer spelled it, e.g. `created_at`, `payload`), so a stored dead letter's
/// detail says which field to fix. `None` for a detail that names no field.
pub fn offending_field(detail: &str) -> Option<&str> {
    let (field, _) = detail.split_once(": ")?;
    let plausible = !field.is_empty()
        && field.len() <= 64
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    plausible.then_some(field)
}

/// A stream entry as Redis returned it: field names and values are arbitrary bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub id: String,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl RawEntry {
    /// The first value of a field, as Redis keeps no uniqueness of field names.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| k.as_slice() == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// The field's text, lossily: for dead-letter bookkeeping, never for decoding.
    pub fn field_lossy(&self, name: &str) -> Option<String> {
        self.field(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// A readable rendering of the whole entry, for a dead letter's `raw`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(k);
            out.push(b'=');
            out.extend_from_slice(v);
        }
        out
    }
}

/// An outbox row as claimed. `payload` is the `jsonb` column's text exactly as PostgreSQL
/// renders it: PostgreSQL stores JSON that no JSON library can read (numbers beyond `f64`,
/// nesting deeper than any parser allows), so the row is decoded here, under the same limits
/// as a stream entry, and never by the adapter that read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: Uuid,
    pub aggregate_id: String,
    pub event_type: String,
    pub payload: String,
}

/// Decodes a stream entry (fields `event_id`, `event_type`, `payload`).
pub fn decode_stream_entry(entry: &RawEntry) -> Result<Event, Rejection> {
    let event_id = required_field_text(entry, "event_id")?;
    let event_id = parse_uuid("event_id", event_id)?;
    let event_type = required_field_text(entry, "event_type")?;
    let event_type = parse_event_type(event_type)?;
    let payload = entry
        .field("payload")
        .ok_or_else(|| Rejection::new(Reason::MissingField, "payload: field absent"))?;
    let value = parse_payload(payload)?;
    decode_payload(EventId(event_id), event_type, &value)
}

/// Decodes an outbox row. Its payload must describe the row's own aggregate.
pub fn decode_outbox_row(row: &OutboxRow) -> Result<Event, Rejection> {
    let event_type = parse_event_type(&row.event_type)?;
    let value = parse_payload(row.payload.as_bytes())?;
    let event = decode_payload(EventId(row.id), event_type, &value)?;
    let Event::MessageCreated(m) = &event;
    let aggregate = parse_uuid("aggregate_id", &row.aggregate_id)?;
    if aggregate != m.chat_id.0 {
        return Err(Rejection::new(
            Reason::AggregateMismatch,
            format!(
                "aggregate_id {} differs from payload chat_id {}",
                row.aggregate_id, m.chat_id
            ),
        ));
    }
    Ok(event)
}

/// Payload bytes → JSON value, under one set of limits for every source: size first (a 10 MB
/// payload costs nothing to refuse), then UTF-8, nesting depth, and what the parser cannot
/// represent (a number beyond `f64`, such as `1e400`) apart from what is not JSON at all.
pub fn parse_payload(bytes: &[u8]) -> Result<Value, Rejection> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(Rejection::new(
            Reason::PayloadTooLarge,
            format!("payload: {} bytes, limit {MAX_PAYLOAD_BYTES}", bytes.len()),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Rejection::new(
            Reason::InvalidUtf8,
            format!("payload: invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    let depth = nesting_depth(text);
    if depth > MAX_PAYLOAD_DEPTH {
        return Err(Rejection::new(
            Reason::PayloadTooDeep,
            format!("payload: nested {depth} levels deep, limit {MAX_PAYLOAD_DEPTH}"),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        // Syntax errors are not JSON; a number out of range is JSON no parser here can hold.
        if e.classify() == serde_json::error::Category::Syntax
            && e.to_string().starts_with("number out of range")
        {
            Rejection::new(Reason::PayloadUnreadable, format!("payload: {e}"))
        } else {
            Rejection::new(Reason::InvalidJson, format!("payload: {e}"))
        }
    })
}

/// The deepest nesting of arrays and objects in JSON text (brackets inside strings do not
/// count). Works on any text, valid JSON or not, in one pass.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn decode_payload(
    event_id: EventId,
    event_type: EventType,
    value: &Value,
) -> Result<Event, Rejection> {
    let obj = value.as_object().ok_or_else(|| {
        Rejection::new(
            Reason::InvalidType,
            format!("payload: expected a JSON object, got {}", type_name(value)),
        )
    })?;
    match event_type {
        EventType::MessageCreated => {
            decode_message_created(event_id, obj).map(Event::MessageCreated)
        }
    }
}

fn decode_message_created(
    event_id: EventId,
    obj: &Map<String, Value>,
) -> Result<MessageCreated, Rejection> {
    let message_id = MessageId(parse_uuid("message_id", required_str(obj, "message_id")?)?);
    let chat_id = ChatId(parse_uuid("chat_id", required_str(obj, "chat_id")?)?);
    let user_id =
        UserId::try_new(required_str(obj, "user_id")?).map_err(|e| text_rejection("user_id", e))?;
    let role_text = required_str(obj, "role")?;
    let role = Role::parse(role_text).ok_or_else(|| {
        Rejection::new(
            Reason::InvalidRole,
            format!(
                "role: {:?} is not one of user, assistant, system",
                clip(role_text)
            ),
        )
    })?;
    let content = Content::try_new(required_str(obj, "content")?)
        .map_err(|e| text_rejection("content", e))?;
    let created_at = match obj.get("created_at") {
        None | Some(Value::Null) => {
            return Err(Rejection::new(
                Reason::MissingField,
                "created_at: field absent",
            ))
        }
        Some(v) => decode_timestamp(v)
            .map_err(|d| Rejection::new(Reason::InvalidTimestamp, format!("created_at: {d}")))?,
    };
    Ok(MessageCreated {
        event_id,
        message_id,
        chat_id,
        user_id,
        role,
        content,
        created_at,
    })
}

/// Encodes `m` as a `message.created` payload: the one place its shape is written (the chat
/// API, `memlink verify` and the bench all call it), beside the decoder that reads it back.
/// `created_at` is RFC 3339 at microseconds, so the round trip is exact. The event id is not
/// in the payload: it travels beside it (the outbox row's id, the stream entry's `event_id`).
pub fn encode_message_created(m: &MessageCreated) -> Value {
    serde_json::json!({
        "message_id": m.message_id,
        "chat_id": m.chat_id,
        "user_id": m.user_id.as_str(),
        "role": m.role.as_str(),
        "content": m.content.as_str(),
        "created_at": m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    })
}

/// Decodes a timestamp: an RFC 3339 string, or an epoch number: seconds, or milliseconds at or
/// above [`EPOCH_MILLIS_THRESHOLD`], integer or not. The result is an exact instant at
/// microsecond precision, between 1970 and the end of 9999.
pub fn decode_timestamp(value: &Value) -> Result<DateTime<Utc>, String> {
    let instant = match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
            .map_err(|e| format!("{:?} is not an RFC 3339 date-time ({e})", clip(s)))?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let (secs, micros) = if i >= EPOCH_MILLIS_THRESHOLD {
                    (i.div_euclid(1_000), i.rem_euclid(1_000) * 1_000)
                } else {
                    (i, 0)
                };
                from_epoch(secs, micros).ok_or_else(|| format!("{i} is out of range"))?
            } else if n.is_u64() {
                return Err(format!("{n} is out of range"));
            } else {
                let f = n.as_f64().ok_or_else(|| format!("{n} is not a number"))?;
                if !f.is_finite() {
                    return Err(format!("{n} is not finite"));
                }
                // Float seconds up to year 9999 carry about 16 significant digits, so rounding
                // to the microsecond recovers what the producer wrote (1769067099.568 → .568000).
                let per_unit = if f >= EPOCH_MILLIS_THRESHOLD as f64 {
                    1_000.0
                } else {
                    1_000_000.0
                };
                let total_micros = (f * per_unit).round();
                if !(0.0..=MAX_EPOCH_MICROS as f64).contains(&total_micros) {
                    return Err(format!("{n} is out of range"));
                }
                let total_micros = total_micros as i64;
                from_epoch(
                    total_micros.div_euclid(1_000_000),
                    total_micros.rem_euclid(1_000_000),
                )
                .ok_or_else(|| format!("{n} is out of range"))?
            }
        }
        other => {
            return Err(format!(
                "expected a date-time or epoch number, got {}",
                type_name(other)
            ))
        }
    };
    check_range(instant)
}

/// 9999-12-31T23:59:59.999999Z in microseconds since the epoch.
const MAX_EPOCH_MICROS: i64 = 253_402_300_799_999_999;

fn from_epoch(secs: i64, micros: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, u32::try_from(micros * 1_000).ok()?)
        .single()
}

fn check_range(t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if t.timestamp() < 0 {
        return Err(format!("{} is before 1970", t.to_rfc3339()));
    }
    if t.timestamp_micros() > MAX_EPOCH_MICROS {
        return Err(format!("{} is after 9999", t.to_rfc3339()));
    }
    Ok(t)
}

fn required_field_text<'a>(entry: &'a RawEntry, name: &str) -> Result<&'a str, Rejection> {
    let bytes = entry
        .field(name)
        .ok_or_else(|| Rejection::new(Reason::MissingField, format!("{name}: field absent")))?;
    std::str::from_utf8(bytes)
        .map_err(|_| Rejection::new(Reason::InvalidUtf8, format!("{name}: invalid UTF-8")))
}

fn required_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, Rejection> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(Rejection::new(
            Reason::MissingField,
            format!("{name}: field absent"),
        )),
        Some(Value::String(s)) if s.is_empty() => {
            Err(Rejection::new(Reason::EmptyField, format!("{name}: empty")))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(Rejection::new(
            Reason::InvalidType,
            format!("{name}: expected a string, got {}", type_name(other)),
        )),
    }
}

fn parse_uuid(name: &str, s: &str) -> Result<Uuid, Rejection> {
    Uuid::try_parse(s).map_err(|_| {
        Rejection::new(
            Reason::InvalidUuid,
            format!("{name}: {:?} is not a UUID", clip(s)),
        )
    })
}

fn parse_event_type(s: &str) -> Result<EventType, Rejection> {
    EventType::parse(s).ok_or_else(|| {
        Rejection::new(
            Reason::UnknownEventType,
            format!("event_type: {:?} is not known", clip(s)),
        )
    })
}

fn text_rejection(name: &str, e: TextError) -> Rejection {
    match e {
        TextError::Empty => Rejection::new(Reason::EmptyField, format!("{name}: empty")),
        TextError::TooLong { limit } if name == "content" => Rejection::new(
            Reason::PayloadTooLarge,
            format!("{name}: longer than {limit} bytes"),
        ),
        TextError::TooLong { limit } => Rejection::new(
            Reason::InvalidText,
            format!("{name}: longer than {limit} bytes"),
        ),
        TextError::ContainsNul => {
            Rejection::new(Reason::InvalidText, format!("{name}: contains a NUL byte"))
        }
        TextError::ControlCharacter => Rejection::new(
            Reason::InvalidText,
            format!("{name}: contains a control character"),
        ),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 80 characters of a value, for details that stay readable and bounded.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const EVENT: &str = "0b6c3a43-7c4b-4bb7-9d7c-8a8a2a0c1d11";
    const MSG: &str = "5d2b0b7e-3f0a-4f5e-8f1e-2b7c9d0e1f23";
    const CHAT: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

    fn payload() -> Value {
        json!({"message_id": MSG, "chat_id": CHAT, "user_id": "u1", "role": "user",
               "content": "My name is Ana.", "created_at": "2026-01-22T07:31:39.568Z"})
    }

    proptest! {
        /// Whatever valid message the encoder is given, the decoder reads back exactly it,
        /// from the outbox and from the stream alike.
        #[test]
        fn encoded_messages_decode_to_themselves(
            ids in any::<[u128; 3]>(),
            user in "[a-zA-Z0-9_.@-]{1,40}",
            role in 0usize..3,
            content in "\\PC{1,200}",
            micros in 0i64..253_402_300_799_999_999,
        ) {
            let role = [Role::User, Role::Assistant, Role::System][role];
            let (Ok(user_id), Ok(content)) = (UserId::try_new(&user), Content::try_new(&content)) else {
                return Ok(());
            };
            let Some(created_at) = Utc.timestamp_micros(micros).single() else {
                return Ok(());
            };
            let m = MessageCreated {
                event_id: EventId(Uuid::from_u128(ids[0])),
                message_id: MessageId(Uuid::from_u128(ids[1])),
                chat_id: ChatId(Uuid::from_u128(ids[2])),
                user_id,
                role,
                content,
                created_at,
            };
            let payload = encode_message_created(&m).to_string();
            let e = entry(&m.event_id.to_string(), "message.created", payload.as_bytes());
            prop_assert_eq!(decode_stream_entry(&e), Ok(Event::MessageCreated(m.clone())));
            let row = OutboxRow {
                id: m.event_id.0,
                aggregate_id: m.chat_id.to_string(),
                event_type: "message.created".into(),
                payload,
            };
            prop_assert_eq!(decode_outbox_row(&row), Ok(Event::MessageCreated(m)));
        }
    }

    #[test]
    fn a_rejection_detail_names_its_field() {
        let mut bad = payload();
        bad["role"] = json!("robot");
        let raw = entry(EVENT, "message.created", bad.to_string().as_bytes());
        let rejection = decode_stream_entry(&raw).unwrap_err();
        assert_eq!(offending_field(&rejection.detail), Some("role"));
        assert_eq!(offending_field("payload: field absent"), Some("payload"));
        assert_eq!(offending_field("a worker panicked"), None);
        assert_eq!(offending_field("two words: not a field"), None);
    }

    fn entry(event_id: &str, event_type: &str, payload: &[u8]) -> RawEntry {
        RawEntry {
            id: "1-0".into(),
            fields: vec![
                (b"event_id".to_vec(), event_id.as_bytes().to_vec()),
                (b"event_type".to_vec(), event_type.as_bytes().to_vec()),
                (b"payload".to_vec(), payload.to_vec()),
            ],
        }
    }

    fn reason_of(p: Value) -> Reason {
        let e = entry(EVENT, "message.created", p.to_string().as_bytes());
        decode_stream_entry(&e).unwrap_err().reason
    }

    #[test]
    fn valid_entry_decodes() {
        let e = entry(EVENT, "message.created", payload().to_string().as_bytes());
        let Event::MessageCreated(m) = decode_stream_entry(&e).unwrap();
        assert_eq!(m.chat_id.to_string(), CHAT);
        assert_eq!(m.content.as_str(), "My name is Ana.");
        assert_eq!(m.created_at.timestamp_micros(), 1_769_067_099_568_000);
    }

    #[test]
    fn the_incident_inputs_are_rejected_with_reasons() {
        let e = entry(
            "chat-1769035355992",
            "message.created",
            payload().to_string().as_bytes(),
        );
        let r = decode_stream_entry(&e).unwrap_err();
        assert_eq!(r.reason, Reason::InvalidUuid);
        assert!(r.detail.contains("chat-1769035355992"), "{}", r.detail);

        let mut p = payload();
        p["chat_id"] = json!("chat-1769035355992");
        assert_eq!(reason_of(p), Reason::InvalidUuid);
    }

    #[test]
    fn float_timestamp_is_an_exact_instant() {
        let t = decode_timestamp(&json!(1769067099.568)).unwrap();
        assert_eq!(t.timestamp(), 1_769_067_099);
        assert_eq!(t.timestamp_subsec_micros(), 568_000);
    }

    /// The outbox's `jsonb` renders `1e11` as `100000000000`; the stream keeps `1e11`. Both
    /// spellings, and fractional milliseconds, follow the one threshold rule.
    #[test]
    fn the_millisecond_rule_ignores_spelling() {
        let as_float: Value = serde_json::from_str("1e11").unwrap();
        let as_int: Value = serde_json::from_str("100000000000").unwrap();
        assert!(as_float.is_f64() && as_int.is_i64());
        let a = decode_timestamp(&as_float).unwrap();
        assert_eq!(a, decode_timestamp(&as_int).unwrap());
        assert_eq!(a.timestamp(), 100_000_000);
        let frac = decode_timestamp(&json!(1769067099568.5)).unwrap();
        assert_eq!(frac.timestamp_micros(), 1_769_067_099_568_500);
        let below = decode_timestamp(&json!(99999999999.5)).unwrap();
        assert_eq!(below.timestamp(), 99_999_999_999);
    }

    #[test]
    fn integer_seconds_and_millis() {
        let s = decode_timestamp(&json!(1769067099)).unwrap();
        let ms = decode_timestamp(&json!(1769067099568_i64)).unwrap();
        assert_eq!(s.timestamp(), 1_769_067_099);
        assert_eq!(ms.timestamp_micros(), 1_769_067_099_568_000);
    }

    #[test]
    fn nonsense_timestamps_are_rejected() {
        for v in [
            json!(-1),
            json!(-0.5),
            json!(1e300),
            json!(u64::MAX),
            json!("yesterday"),
            json!("1769067099"),
            json!(true),
            json!([1]),
            json!("0001-01-01T00:00:00Z"),
            json!(253402300800_i64 * 1000 + 1),
            json!(253402300800.0_f64 * 1000.0 + 1000.0),
        ] {
            assert!(decode_timestamp(&v).is_err(), "{v} accepted");
        }
        let mut p = payload();
        p["created_at"] = json!("not a date");
        assert_eq!(reason_of(p), Reason::InvalidTimestamp);
    }

    #[test]
    fn each_malformed_class_has_its_reason() {
        let cases: Vec<(Value, Reason)> = vec![
            (json!({"chat_id": CHAT}), Reason::MissingField),
            (
                {
                    let mut p = payload();
                    p["user_id"] = json!("");
                    p
                },
                Reason::EmptyField,
            ),
            (
                {
                    let mut p = payload();
                    p["user_id"] = json!(42);
                    p
                },
                Reason::InvalidType,
            ),
            (
                {
                    let mut p = payload();
                    p["role"] = json!("admin");
                    p
                },
                Reason::InvalidRole,
            ),
            (
                {
                    let mut p = payload();
                    p["content"] = json!("a\u{0}b");
                    p
                },
                Reason::InvalidText,
            ),
            (
                {
                    let mut p = payload();
                    p["content"] = json!("x".repeat(MAX_CONTENT_BYTES + 1));
                    p
                },
                Reason::PayloadTooLarge,
            ),
            (
                {
                    let mut p = payload();
                    p["message_id"] = json!("42");
                    p
                },
                Reason::InvalidUuid,
            ),
            (json!([1, 2]), Reason::InvalidType),
        ];
        for (p, want) in cases {
            assert_eq!(reason_of(p.clone()), want, "{p}");
        }
        let e = entry(EVENT, "message.created", b"{\"message_id\": ");
        assert_eq!(
            decode_stream_entry(&e).unwrap_err().reason,
            Reason::InvalidJson
        );
        let e = entry(EVENT, "message.deleted", payload().to_string().as_bytes());
        assert_eq!(
            decode_stream_entry(&e).unwrap_err().reason,
            Reason::UnknownEventType
        );
        let e = entry(EVENT, "message.created", b"{\"a\": \"\xff\"}");
        assert_eq!(
            decode_stream_entry(&e).unwrap_err().reason,
            Reason::InvalidUtf8
        );
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        let e = entry(EVENT, "message.created", &big);
        assert_eq!(
            decode_stream_entry(&e).unwrap_err().reason,
            Reason::PayloadTooLarge
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = entry(EVENT, "message.created", deep.as_bytes());
        assert_eq!(
            decode_stream_entry(&e).unwrap_err().reason,
            Reason::PayloadTooDeep
        );
    }

    #[test]
    fn emoji_rtl_and_sql_text_are_valid() {
        for text in [
            "שלום, my name is Dana 👋",
            "'; DROP TABLE facts; --",
            "مرحبا",
        ] {
            let mut p = payload();
            p["content"] = json!(text);
            let e = entry(EVENT, "message.created", p.to_string().as_bytes());
            assert!(decode_stream_entry(&e).is_ok(), "{text}");
        }
    }

    #[test]
    fn outbox_row_must_match_its_aggregate() {
        let row = OutboxRow {
            id: Uuid::try_parse(EVENT).unwrap(),
            aggregate_id: CHAT.into(),
            event_type: "message.created".into(),
            payload: payload().to_string(),
        };
        assert!(decode_outbox_row(&row).is_ok());
        let other = OutboxRow {
            aggregate_id: MSG.into(),
            ..row.clone()
        };
        assert_eq!(
            decode_outbox_row(&other).unwrap_err().reason,
            Reason::AggregateMismatch
        );
        let legacy = OutboxRow {
            aggregate_id: "chat-1769035355992".into(),
            ..row
        };
        assert_eq!(
            decode_outbox_row(&legacy).unwrap_err().reason,
            Reason::InvalidUuid
        );
    }

    /// What PostgreSQL's `jsonb` stores but no parser here can hold: each gets its own reason,
    /// and a valid payload beside them is untouched.
    #[test]
    fn unreadable_outbox_payloads_have_reasons() {
        let row = |payload: String| OutboxRow {
            id: Uuid::try_parse(EVENT).unwrap(),
            aggregate_id: CHAT.into(),
            event_type: "message.created".into(),
            payload,
        };
        let mut huge = payload().to_string();
        huge.insert_str(1, &format!("\"n\": 1{}, ", "0".repeat(400)));
        let r = decode_outbox_row(&row(huge)).unwrap_err();
        assert_eq!(r.reason, Reason::PayloadUnreadable, "{}", r.detail);
        let mut deep = payload().to_string();
        deep.insert_str(
            1,
            &format!("\"d\": {}{}, ", "[".repeat(200), "]".repeat(200)),
        );
        let r = decode_outbox_row(&row(deep)).unwrap_err();
        assert_eq!(r.reason, Reason::PayloadTooDeep, "{}", r.detail);
        assert!(r.detail.contains("201 levels"), "{}", r.detail);
        // Exactly at the limit is fine; brackets inside strings are text.
        let mut at_limit = payload().to_string();
        at_limit.insert_str(
            1,
            &format!(
                "\"d\": {}{}, \"s\": \"{}\\\"[\", ",
                "[".repeat(MAX_PAYLOAD_DEPTH - 1),
                "]".repeat(MAX_PAYLOAD_DEPTH - 1),
                "[".repeat(500)
            ),
        );
        let verdict = decode_outbox_row(&row(at_limit));
        assert!(verdict.is_ok(), "{verdict:?}");
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_entries_never_panic(
            event_id in proptest::collection::vec(any::<u8>(), 0..48),
            event_type in proptest::collection::vec(any::<u8>(), 0..24),
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let e = RawEntry { id: "1-0".into(), fields: vec![
                (b"event_id".to_vec(), event_id), (b"event_type".to_vec(), event_type), (b"payload".to_vec(), payload)] };
            let _ = decode_stream_entry(&e);
        }

        #[test]
        fn arbitrary_payload_json_is_a_valid_event_or_typed_rejection(
            content in ".{0,64}", user in ".{0,16}", ts in any::<f64>(), role in "(user|assistant|system|[a-z]{0,6})",
        ) {
            let p = json!({"message_id": MSG, "chat_id": CHAT, "user_id": user, "role": role,
                           "content": content, "created_at": ts});
            let e = entry(EVENT, "message.created", p.to_string().as_bytes());
            match decode_stream_entry(&e) {
                Ok(Event::MessageCreated(m)) => {
                    prop_assert!(m.created_at.timestamp() >= 0);
                    prop_assert!(!m.content.as_str().contains('\0'));
                }
                Err(r) => prop_assert!(!r.detail.is_empty()),
            }
        }

        /// Below 2^31 s (the year 2038) a float's error stays under half a microsecond, so
        /// rounding recovers exactly the instant the producer wrote.
        #[test]
        fn float_seconds_are_exact_to_the_microsecond_until_2038(secs in 0i64..(1i64 << 31), micros in 0i64..1_000_000) {
            let f = secs as f64 + micros as f64 / 1e6;
            let t = decode_timestamp(&json!(f)).unwrap();
            prop_assert_eq!(t.timestamp_micros(), secs * 1_000_000 + micros);
        }

        /// Later (until seconds reach the millisecond threshold), the float itself no longer
        /// holds whole microseconds: the instant is within the float's own precision (one unit
        /// in the last place) of what was meant.
        #[test]
        fn later_float_seconds_are_within_the_floats_precision(secs in (1i64 << 31)..EPOCH_MILLIS_THRESHOLD, micros in 0i64..1_000_000) {
            let f = secs as f64 + micros as f64 / 1e6;
            let t = decode_timestamp(&json!(f)).unwrap();
            let ulp_micros = (f * f64::EPSILON * 1e6).ceil() as i64 + 1;
            prop_assert!((t.timestamp_micros() - (secs * 1_000_000 + micros)).abs() <= ulp_micros);
        }
    }
}
