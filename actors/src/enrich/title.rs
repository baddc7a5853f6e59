//! LLM chat titles, as pure functions: the prompt, and the shaping of what the model answered
//! into a title (at most [`MAX_LLM_TITLE_CHARS`] characters, no quotes, whitespace collapsed,
//! cut at a word boundary).
//!
//! Pure: no I/O, no clock. It never panics and never returns a blank title: an answer that
//! shapes to nothing is refused and the fallback title stays.

use serde_json::Value;

use super::facts::{cut_bytes, strip_fence, Rejection, MAX_INPUT_BYTES};

/// The longest LLM title, in characters.
pub const MAX_LLM_TITLE_CHARS: usize = 60;

pub fn system_prompt() -> String {
    format!(
        "You write the title of a chat from its first message.\n\
         The title is a few words (at most {MAX_LLM_TITLE_CHARS} characters) saying what the chat is about, \
         in the message's language, without quotes and without a final period.\n\
         Answer with one JSON object and nothing else: {{\"title\": \"...\"}}"
    )
}

pub fn user_prompt(content: &str) -> String {
    cut_bytes(content, MAX_INPUT_BYTES).to_owned()
}

/// The title in the model's answer, shaped. `{"title": "..."}` is expected; a server that
/// ignored `response_format` and answered one line of plain text is accepted too.
pub fn parse_title(content: &str) -> Result<String, Rejection> {
    let text = strip_fence(content);
    let raw = if text.starts_with('{') || text.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => match o.get("title") {
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(rejection("wrong_type", "title is not a string")),
                None => return Err(rejection("missing_title", "no \"title\" key")),
            },
            Ok(_) => return Err(rejection("wrong_type", "the answer is not a JSON object")),
            Err(e) => return Err(rejection("malformed_json", &e.to_string())),
        }
    } else {
        text.lines().next().unwrap_or("").to_owned()
    };
    shape_title(&raw).ok_or_else(|| rejection("empty_title", "the title is blank"))
}

fn rejection(code: &'static str, detail: &str) -> Rejection {
    Rejection {
        code,
        detail: cut_bytes(detail, 200).to_owned(),
    }
}

/// Quotes removed (an apostrophe inside a word stays), a `Title:` label dropped, whitespace
/// and control characters collapsed, the final period dropped, then cut at a word boundary to
/// at most [`MAX_LLM_TITLE_CHARS`] characters (a single longer word is cut inside). `None`
/// when nothing is left.
pub fn shape_title(raw: &str) -> Option<String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut cleaned = String::with_capacity(raw.len());
    for (i, &c) in chars.iter().enumerate() {
        let c = if c.is_control() { ' ' } else { c };
        match c {
            '"' | '“' | '”' | '„' | '«' | '»' | '`' => cleaned.push(' '),
            '\'' | '‘' | '’' => {
                let inside = i > 0
                    && chars[i - 1].is_alphanumeric()
                    && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                cleaned.push(if inside { c } else { ' ' });
            }
            _ => cleaned.push(c),
        }
    }
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("title:"))
    {
        words.remove(0);
    }
    let collapsed = words.join(" ");
    let collapsed = collapsed.trim_end_matches(['.', ' ']).to_owned();
    if collapsed.is_empty() {
        return None;
    }
    if collapsed.chars().count() <= MAX_LLM_TITLE_CHARS {
        return Some(collapsed);
    }
    let mut out = String::new();
    let mut len = 0;
    for word in collapsed.split(' ') {
        let needed = usize::from(!out.is_empty()) + word.chars().count();
        if len + needed > MAX_LLM_TITLE_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        len += needed;
    }
    if out.is_empty() {
        out = collapsed.chars().take(MAX_LLM_TITLE_CHARS).collect();
    }
    // A cut can leave a dangling separator.
    let out = out
        .trim_end_matches([',', ';', ':', '-', '–', '—', ' '])
        .to_owned();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shapes_titles() {
        assert_eq!(
            shape_title("  \"Ana's   hiking\n plans.\" ").as_deref(),
            Some("Ana's hiking plans")
        );
        assert_eq!(
            shape_title("Title: “Trip to Porto”").as_deref(),
            Some("Trip to Porto")
        );
        assert_eq!(shape_title("'quoted'").as_deref(), Some("quoted"));
        assert_eq!(shape_title(" \" \" ").as_deref(), None);
        assert_eq!(shape_title("...").as_deref(), None);
        let long = "Planning a long weekend in the mountains with friends, family and the dog";
        let t = shape_title(long).unwrap();
        assert_eq!(t, "Planning a long weekend in the mountains with friends");
        assert!(t.chars().count() <= MAX_LLM_TITLE_CHARS);
        let one = "x".repeat(100);
        assert_eq!(shape_title(&one).unwrap().chars().count(), 60);
        assert_eq!(
            shape_title("a\u{0}b\tc").as_deref(),
            Some("a b c"),
            "control characters are spaces"
        );
    }

    #[test]
    fn parses_answers() {
        assert_eq!(
            parse_title(r#"{"title": "  \"Ana's   hiking plans\" "}"#).unwrap(),
            "Ana's hiking plans"
        );
        assert_eq!(parse_title("Weekend plans\nmore").unwrap(), "Weekend plans");
        assert_eq!(
            parse_title(r#"{"title": ""}"#).unwrap_err().code,
            "empty_title"
        );
        assert_eq!(
            parse_title(r#"{"title": 3}"#).unwrap_err().code,
            "wrong_type"
        );
        assert_eq!(
            parse_title(r#"{"name": "x"}"#).unwrap_err().code,
            "missing_title"
        );
        assert_eq!(parse_title("{oops").unwrap_err().code, "malformed_json");
        assert_eq!(parse_title("").unwrap_err().code, "empty_title");
    }

    proptest! {
        #[test]
        fn titles_are_bounded_and_clean(s in "\\PC{0,200}") {
            if let Some(t) = shape_title(&s) {
                prop_assert!(!t.is_empty());
                prop_assert!(t.chars().count() <= MAX_LLM_TITLE_CHARS);
                prop_assert!(!t.contains('"') && !t.contains("  "));
                prop_assert!(!t.starts_with(' ') && !t.ends_with(' '));
                prop_assert!(!t.chars().any(char::is_control));
            }
        }
    }
}
