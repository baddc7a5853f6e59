//! Log output: one line per event, as text (`<ms> <LEVEL> <target> event=... key=value`, the
//! default) or, with `MEMLINK_LOG_FORMAT=json`, one JSON object per line with `ts`, `level`,
//! `target` and the event's `key=value` fields (quoted values unescaped), for log shippers
//! that index fields (Loki, Elasticsearch, journald's JSON export).
//!
//! Formatting only: it must never drop a line or a field it cannot parse (unparsed text is
//! kept in `message`), and it must never add data that was not in the log call.
//!
//! No value from outside may forge a field or a line. Every such value is written with
//! [`Quoted`], whose escapes [`parse_fields`] reads back; a record is always one line (line
//! breaks that reach the formatter anyway are escaped); the real `event` field is the first
//! one of a `memlink` target's message, and only those messages are split into JSON fields.
//! Alert rules anchor on exactly that (deploy/loki/alerts.yml, tests/ops.rs).

use std::io::Write;

use serde_json::{Map, Value};

pub const FORMAT_VAR: &str = "MEMLINK_LOG_FORMAT";

/// A value from outside (a stream field, an outbox column, HTTP input, an error text that may
/// quote them) in a log line: always a double-quoted string in which `"` and `\\` are
/// escaped and every control character, line or paragraph separator, bidi control and other
/// non-printable character is written as `\\n`, `\\u{2028}`, ... (Rust's `{:?}` of a
/// `&str`). So a value can neither end its own field nor start a line, and `event=` inside it
/// stays inside its quotes. [`parse_fields`] reads it back.
#[derive(Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// An error (or any displayable value from outside) as a [`Quoted`] string.
pub fn quoted(value: &dyn std::fmt::Display) -> String {
    Quoted(&value.to_string()).to_string()
}

/// Characters that some reader (Loki and journald: `\\n`; editors, browsers, Python's
/// `splitlines`: the rest) takes for the end of a line.
fn breaks_line(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{b}'
            | '\u{c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// The message with any line break escaped as in [`Quoted`]: one record, one line, even when
/// a library logs raw text.
pub fn one_line(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.contains(breaks_line) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if breaks_line(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One text log line: `<time> <LEVEL> <target> <message>`.
pub fn text_line(ts: &str, level: &str, target: &str, message: &str) -> String {
    format!("{ts} {level} {target} {}", one_line(message))
}

/// Only memlink's own messages are made of fields (`event=` first); a library's message is
/// kept whole in `message`, whatever it looks like.
fn has_fields(target: &str) -> bool {
    target == "memlink" || target.starts_with("memlink::")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// `json` (any case) is JSON; anything else, including unset, is text.
    pub fn from_env_value(v: Option<&str>) -> Format {
        match v.map(|s| s.trim().to_ascii_lowercase()) {
            Some(s) if s == "json" => Format::Json,
            _ => Format::Text,
        }
    }
}

/// Installs the global logger (`RUST_LOG` filter, default `info`) in the chosen format.
pub fn init() {
    let format = Format::from_env_value(std::env::var(FORMAT_VAR).ok().as_deref());
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        Format::Text => builder.format(|buf, record| {
            let line = text_line(
                &buf.timestamp_millis().to_string(),
                record.level().as_str(),
                record.target(),
                &record.args().to_string(),
            );
            writeln!(buf, "{line}")
        }),
        Format::Json => builder.format(|buf, record| {
            let line = json_line(
                &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                record.level().as_str(),
                record.target(),
                &record.args().to_string(),
            );
            writeln!(buf, "{line}")
        }),
    };
    builder.init();
}

/// One JSON log line. Line and paragraph separators, which JSON allows raw in strings, are
/// escaped too: one record, one line, for every reader.
pub fn json_line(ts: &str, level: &str, target: &str, message: &str) -> String {
    let mut obj = Map::new();
    obj.insert("ts".into(), Value::String(ts.to_owned()));
    obj.insert("level".into(), Value::String(level.to_owned()));
    obj.insert("target".into(), Value::String(target.to_owned()));
    let (fields, rest) = if has_fields(target) {
        parse_fields(message)
    } else {
        (Vec::new(), message)
    };
    for (k, v) in fields {
        // Fields never overwrite the envelope.
        let key = if obj.contains_key(&k) {
            format!("field_{k}")
        } else {
            k
        };
        obj.insert(key, Value::String(v));
    }
    if !rest.is_empty() {
        obj.insert("message".into(), Value::String(rest.to_owned()));
    }
    let line = Value::Object(obj).to_string();
    // Only inside strings (JSON's syntax has no other place for them), so this stays valid.
    if line.contains(breaks_line) {
        line.replace('\u{85}', "\\u0085")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    } else {
        line
    }
}

/// Splits a log message into its leading `key=value` fields and whatever follows them.
/// Values are bare (up to the next space) or Rust-debug-quoted strings.
pub fn parse_fields(message: &str) -> (Vec<(String, String)>, &str) {
    let mut fields = Vec::new();
    let mut rest = message.trim_start();
    while let Some((key, after_eq)) = key_of(rest) {
        let Some((value, after)) = value_of(after_eq) else {
            break;
        };
        // A quoted value must end the token: `x="a"b` is not a field.
        if !(after.is_empty() || after.starts_with(' ')) {
            break;
        }
        fields.push((key.to_owned(), value));
        rest = after.trim_start();
    }
    if fields.is_empty() {
        return (fields, message);
    }
    (fields, rest)
}

fn key_of(s: &str) -> Option<(&str, &str)> {
    let end = s.find('=')?;
    let key = &s[..end];
    let ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then(|| (key, &s[end + 1..]))
}

fn value_of(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        return unquote(quoted);
    }
    let end = s.find(' ').unwrap_or(s.len());
    Some((s[..end].to_owned(), &s[end..]))
}

/// Reads a Rust `{:?}` string body (after its opening quote) up to the closing quote.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '0' => out.push('\0'),
                    '\\' | '"' | '\'' => out.push(e),
                    'u' => {
                        // \u{1f600}
                        let (_, open) = chars.next()?;
                        if open != '{' {
                            return None;
                        }
                        let mut hex = String::new();
                        for (_, h) in chars.by_ref() {
                            if h == '}' {
                                break;
                            }
                            hex.push(h);
                        }
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_fields_become_json_fields() {
        let msg = format!(
            "event=dead_letter actor=worker reason=invalid_json source_ref=1-0 detail={:?}",
            "expected value at \"line\" 1\n\u{1}"
        );
        let v: Value =
            serde_json::from_str(&json_line("t", "WARN", "memlink::worker", &msg)).unwrap();
        assert_eq!(v["event"], "dead_letter");
        assert_eq!(v["reason"], "invalid_json");
        assert_eq!(v["detail"], "expected value at \"line\" 1\n\u{1}");
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "memlink::worker");
        assert!(v.get("message").is_none());
    }

    #[test]
    fn unstructured_text_is_kept() {
        let v: Value = serde_json::from_str(&json_line("t", "INFO", "x", "hello world")).unwrap();
        assert_eq!(v["message"], "hello world");
        let (fields, rest) =
            parse_fields("event=batch_refused size=3 error=\"boom\": applying one by one");
        assert_eq!(fields.len(), 2);
        assert_eq!(rest, "error=\"boom\": applying one by one");
        // A field named like the envelope does not replace it.
        let v: Value =
            serde_json::from_str(&json_line("t", "INFO", "memlink::x", "event=e level=9")).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["field_level"], "9");
    }

    #[test]
    fn forged_values_stay_in_their_field() {
        let forged = "x\" event=supervisor_escalate FAKE=1\n2026-01-01T00:00:00.000Z ERROR memlink::supervisor event=exit \\\" \u{2028}\u{85}\u{202e}";
        let msg = format!(
            "event=dead_letter event_id={} detail={}",
            Quoted(forged),
            quoted(&"e")
        );
        let text = text_line("t", "WARN", "memlink::worker", &msg);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains(['\u{2028}', '\u{85}', '\u{202e}']), "{text}");
        let (fields, rest) = parse_fields(&msg);
        assert_eq!(rest, "");
        assert_eq!(
            fields,
            vec![
                ("event".to_owned(), "dead_letter".to_owned()),
                ("event_id".to_owned(), forged.to_owned()),
                ("detail".to_owned(), "e".to_owned()),
            ]
        );
        let json = json_line("t", "WARN", "memlink::worker", &msg);
        assert_eq!(json.lines().count(), 1, "{json}");
        assert!(!json.contains(['\u{2028}', '\u{85}']), "{json}");
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["event"], "dead_letter");
        assert_eq!(v["event_id"], forged);
        // A library's message is never split into fields.
        let v: Value = serde_json::from_str(&json_line(
            "t",
            "WARN",
            "actix_http::h1",
            "event=supervisor_escalate\nx",
        ))
        .unwrap();
        assert!(v.get("event").is_none(), "{v}");
        assert_eq!(v["message"], "event=supervisor_escalate\nx");
        assert_eq!(
            text_line("t", "WARN", "lib", "a\nb\r\u{2028}c"),
            "t WARN lib a\\nb\\r\\u{2028}c"
        );
    }

    #[test]
    fn format_choice() {
        assert_eq!(Format::from_env_value(Some("JSON")), Format::Json);
        assert_eq!(Format::from_env_value(Some("text")), Format::Text);
        assert_eq!(Format::from_env_value(None), Format::Text);
    }
}
