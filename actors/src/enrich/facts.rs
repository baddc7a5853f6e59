//! The LLM's side of fact extraction, as pure functions: the prompt, the validation of what
//! the model answered, and the merge with the facts the rules already stored.
//!
//! Pure: no I/O, no clock, no randomness. Whatever the model says, nothing here panics, and an
//! answer is used only when every fact in it is valid: one unknown predicate, wrong type,
//! empty object or malformed JSON refuses the whole answer (precision over recall, like the
//! rules), and the rules' facts stand.

use std::collections::HashSet;

use crate::extract::{Cardinality, FactKind, Predicate};
use serde_json::Value;

/// Bumped whenever a change to the prompt or the validation can change the facts stored.
pub const LLM_EXTRACTOR_VERSION: i32 = 1;
/// The `rule_id` of every fact the LLM produced.
pub const LLM_RULE_ID: &str = "llm";
/// Stored with every LLM fact: the model's word is weaker than a matched rule.
pub const LLM_CONFIDENCE: f32 = 0.6;
/// An answer with more facts than this is refused (a model that rambles).
pub const MAX_FACTS: usize = 32;
/// The longest object accepted, in characters.
pub const MAX_OBJECT_CHARS: usize = 200;
/// The longest message sent to the model, in bytes (cut at a character boundary).
pub const MAX_INPUT_BYTES: usize = 16 * 1024;

/// The extractor name stored with LLM facts: `llm:<model>`.
pub fn extractor_name(model: &str) -> String {
    format!("llm:{model}")
}

/// A fact the model stated and the validation accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmFact {
    pub predicate: Predicate,
    pub object: String,
    pub kind: FactKind,
}

/// Why an answer was refused: a stable code for logs and the `last_error` column, and a
/// short detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Rejection {
    pub code: &'static str,
    pub detail: String,
}

impl Rejection {
    fn new(code: &'static str, detail: impl Into<String>) -> Rejection {
        let mut detail: String = detail.into();
        if detail.len() > 200 {
            let mut cut = 200;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        Rejection { code, detail }
    }
}

/// The system message: the vocabulary, the kinds and the exact JSON shape wanted.
pub fn system_prompt() -> String {
    let mut vocabulary = String::new();
    for p in Predicate::ALL {
        let note = match p.cardinality() {
            Cardinality::One => "one value",
            Cardinality::Many => "several values",
        };
        vocabulary.push_str(&format!("- {} ({note})\n", p.as_str()));
    }
    format!(
        "You extract long-term facts about the author of a chat message.\n\
         Only facts the author states about themself count: ignore questions, hypotheticals, \
         wishes, quotes, and anything said about other people.\n\
         Answer with one JSON object and nothing else, of this shape:\n\
         {{\"facts\": [{{\"predicate\": \"...\", \"object\": \"...\", \"kind\": \"...\"}}]}}\n\
         predicate is exactly one of:\n{vocabulary}\
         object is a short string value in the author's words (a name, a place, a thing), never empty.\n\
         kind is one of: assert (a plain statement), correction (an earlier value was never true), \
         change (the value changed from now on), retraction (the value no longer holds; object is the old value).\n\
         If the message states no such fact, answer {{\"facts\": []}}."
    )
}

/// The user message: the chat message itself, cut to [`MAX_INPUT_BYTES`].
pub fn user_prompt(content: &str) -> String {
    cut_bytes(content, MAX_INPUT_BYTES).to_owned()
}

pub fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Some servers wrap JSON in a Markdown fence despite `response_format`; accept that much.
pub fn strip_fence(content: &str) -> &str {
    let t = content.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Parses and validates the model's answer. Every fact must be valid, or none is used.
pub fn parse_facts(content: &str) -> Result<Vec<LlmFact>, Rejection> {
    let text = strip_fence(content);
    if text.is_empty() {
        return Err(Rejection::new("empty_answer", "the model answered nothing"));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| Rejection::new("malformed_json", e.to_string()))?;
    let Value::Object(top) = value else {
        return Err(Rejection::new(
            "wrong_type",
            "the answer is not a JSON object",
        ));
    };
    let facts = match top.get("facts") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(Rejection::new("wrong_type", "\"facts\" is not an array")),
        None => return Err(Rejection::new("missing_facts", "no \"facts\" key")),
    };
    if facts.len() > MAX_FACTS {
        return Err(Rejection::new(
            "too_many_facts",
            format!("{} facts, at most {MAX_FACTS}", facts.len()),
        ));
    }
    facts
        .iter()
        .enumerate()
        .map(|(i, f)| {
            parse_fact(f).map_err(|r| Rejection::new(r.code, format!("fact {i}: {}", r.detail)))
        })
        .collect()
}

fn parse_fact(value: &Value) -> Result<LlmFact, Rejection> {
    let Value::Object(f) = value else {
        return Err(Rejection::new("wrong_type", "not an object"));
    };
    let predicate = match f.get("predicate") {
        Some(Value::String(s)) => {
            let norm = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
            Predicate::parse(&norm)
                .ok_or_else(|| Rejection::new("unknown_predicate", format!("{s:?}")))?
        }
        Some(_) => return Err(Rejection::new("wrong_type", "predicate is not a string")),
        None => return Err(Rejection::new("missing_field", "no predicate")),
    };
    let object = match f.get("object") {
        Some(Value::String(s)) => normalise_object(predicate, s),
        Some(_) => return Err(Rejection::new("wrong_type", "object is not a string")),
        None => return Err(Rejection::new("missing_field", "no object")),
    };
    if object.is_empty() {
        return Err(Rejection::new("empty_object", predicate.as_str()));
    }
    if object.chars().count() > MAX_OBJECT_CHARS {
        return Err(Rejection::new(
            "object_too_long",
            format!("{} characters", object.chars().count()),
        ));
    }
    let kind = match f.get("kind") {
        None | Some(Value::Null) => FactKind::Assert,
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "assert" => FactKind::Assert,
            "correction" => FactKind::Correction,
            "change" => FactKind::Change,
            "retraction" => FactKind::Retraction,
            _ => return Err(Rejection::new("unknown_kind", format!("{s:?}"))),
        },
        Some(_) => return Err(Rejection::new("wrong_type", "kind is not a string")),
    };
    check_value(predicate, &object)?;
    Ok(LlmFact {
        predicate,
        object,
        kind,
    })
}

/// Whitespace and control characters collapsed, surrounding quotes, final punctuation and a
/// leading indefinite article dropped: the shape the rules store ("a cat" is "cat"), so that
/// duplicates are found.
fn normalise_object(predicate: Predicate, raw: &str) -> String {
    let collapsed = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let trimmed = collapsed
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | '“' | '”' | '‘' | '’'))
        .trim_end_matches(['.', ',', ';', ':', '!'])
        .trim();
    let keeps_articles = matches!(
        predicate,
        Predicate::Name | Predicate::PreferredName | Predicate::Email
    );
    if !keeps_articles {
        for article in ["a ", "an "] {
            let starts = trimmed
                .get(..article.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(article));
            if starts && trimmed.len() > article.len() {
                return trimmed[article.len()..].trim_start().to_owned();
            }
        }
    }
    trimmed.to_owned()
}

/// The few checks a value can fail whatever the language: an age is a plausible number, an
/// email has one `@` and no spaces.
fn check_value(predicate: Predicate, object: &str) -> Result<(), Rejection> {
    let ok = match predicate {
        Predicate::Age => object.parse::<u32>().is_ok_and(|n| (1..=130).contains(&n)),
        Predicate::Email => {
            object.matches('@').count() == 1
                && !object.contains(' ')
                && !object.starts_with('@')
                && !object.ends_with('@')
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Rejection::new(
            "invalid_value",
            format!("{} {object:?}", predicate.as_str()),
        ))
    }
}

/// A fact the rules stored for the same message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFact {
    pub predicate: Predicate,
    pub object: String,
    pub kind: FactKind,
}

/// The LLM facts to add beside `rules` (the facts already stored for the same message: the
/// rules', or in `llm` mode none but the LLM's own): duplicates (same predicate and object,
/// case-insensitively) are dropped; for a single-valued predicate what is stored wins, and
/// the model gets at most one new value per message (retractions aside).
pub fn merge(rules: &[StoredFact], llm: Vec<LlmFact>) -> Vec<LlmFact> {
    let key = |p: Predicate, o: &str| (p, o.to_lowercase());
    let mut seen: HashSet<(Predicate, String)> =
        rules.iter().map(|f| key(f.predicate, &f.object)).collect();
    let ruled: HashSet<Predicate> = rules
        .iter()
        .filter(|f| f.predicate.cardinality() == Cardinality::One)
        .map(|f| f.predicate)
        .collect();
    let mut valued: HashSet<Predicate> = HashSet::new();
    let mut out = Vec::new();
    for f in llm {
        if seen.contains(&key(f.predicate, &f.object)) {
            continue;
        }
        if f.predicate.cardinality() == Cardinality::One {
            if ruled.contains(&f.predicate) {
                continue;
            }
            if f.kind != FactKind::Retraction && !valued.insert(f.predicate) {
                continue;
            }
        }
        seen.insert(key(f.predicate, &f.object));
        out.push(f);
    }
    out
}

/// The LLM facts [`merge`] drops because the rules already hold a different value for the same
/// single-valued predicate: the rules win, and this says where they overruled the model (so
/// that a disagreement is reported, not lost).
pub fn overruled(rules: &[StoredFact], llm: &[LlmFact]) -> Vec<LlmFact> {
    llm.iter()
        .filter(|f| {
            f.predicate.cardinality() == Cardinality::One
                && rules.iter().any(|r| {
                    r.predicate == f.predicate && r.object.to_lowercase() != f.object.to_lowercase()
                })
                && !rules.iter().any(|r| {
                    r.predicate == f.predicate && r.object.to_lowercase() == f.object.to_lowercase()
                })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(p: Predicate, o: &str, k: FactKind) -> LlmFact {
        LlmFact {
            predicate: p,
            object: o.to_owned(),
            kind: k,
        }
    }

    #[test]
    fn accepts_a_valid_answer() {
        let got = parse_facts(
            r#"{"facts": [
                {"predicate": "name", "object": " Ana  Silva. ", "kind": "assert"},
                {"predicate": "Likes", "object": "\"mountain biking\""},
                {"predicate": "job title", "object": "nurse", "kind": "Change", "extra": 1},
                {"predicate": "age", "object": "34", "kind": "correction"},
                {"predicate": "location", "object": "Lyon", "kind": "retraction"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                fact(Predicate::Name, "Ana Silva", FactKind::Assert),
                fact(Predicate::Likes, "mountain biking", FactKind::Assert),
                fact(Predicate::JobTitle, "nurse", FactKind::Change),
                fact(Predicate::Age, "34", FactKind::Correction),
                fact(Predicate::Location, "Lyon", FactKind::Retraction),
            ]
        );
        assert_eq!(parse_facts(r#"{"facts": []}"#).unwrap(), vec![]);
        assert_eq!(
            parse_facts(r#"{"facts": [{"predicate": "likes", "object": "An  apple pie"}, {"predicate": "name", "object": "A Li"}]}"#).unwrap(),
            vec![
                fact(Predicate::Likes, "apple pie", FactKind::Assert),
                fact(Predicate::Name, "A Li", FactKind::Assert)
            ]
        );
        assert_eq!(
            parse_facts(
                "```json\n{\"facts\": [{\"predicate\": \"pet\", \"object\": \"a cat\"}]}\n```"
            )
            .unwrap(),
            vec![fact(Predicate::Pet, "cat", FactKind::Assert)]
        );
    }

    #[test]
    fn refuses_invalid_answers_whole() {
        let code = |s: &str| parse_facts(s).unwrap_err().code;
        assert_eq!(code("not json {"), "malformed_json");
        assert_eq!(code(""), "empty_answer");
        assert_eq!(code("[]"), "wrong_type");
        assert_eq!(code(r#"{"fact": []}"#), "missing_facts");
        assert_eq!(code(r#"{"facts": {}}"#), "wrong_type");
        assert_eq!(code(r#"{"facts": ["name"]}"#), "wrong_type");
        assert_eq!(
            code(
                r#"{"facts": [{"predicate": "name", "object": "Ana"}, {"predicate": "favourite_colour", "object": "blue"}]}"#
            ),
            "unknown_predicate"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": 3, "object": "x"}]}"#),
            "wrong_type"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "age", "object": 34}]}"#),
            "wrong_type"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "name", "object": "  "}]}"#),
            "empty_object"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "name", "object": "\"\""}]}"#),
            "empty_object"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "name"}]}"#),
            "missing_field"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "name", "object": "Ana", "kind": "maybe"}]}"#),
            "unknown_kind"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "age", "object": "old"}]}"#),
            "invalid_value"
        );
        assert_eq!(
            code(r#"{"facts": [{"predicate": "email", "object": "a b@c"}]}"#),
            "invalid_value"
        );
        let long = format!(
            r#"{{"facts": [{{"predicate": "likes", "object": "{}"}}]}}"#,
            "x".repeat(201)
        );
        assert_eq!(code(&long), "object_too_long");
        let many = format!(
            r#"{{"facts": [{}]}}"#,
            vec![r#"{"predicate": "likes", "object": "x"}"#; 33].join(",")
        );
        assert_eq!(code(&many), "too_many_facts");
        let e = parse_facts(r#"{"facts": [{"predicate": "colour", "object": "x"}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "unknown_predicate: fact 0: \"colour\"");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "\u{0}",
            "{",
            "```",
            "```json",
            "{\"facts\": [null]}",
            "ü\u{202e}",
            "{\"facts\": [{\"predicate\": \"name\", \"object\": \"\u{0}\u{1}\"}]}",
        ] {
            assert!(parse_facts(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn merge_dedups_and_lets_rules_win() {
        let rules = vec![
            StoredFact {
                predicate: Predicate::Name,
                object: "Ana".into(),
                kind: FactKind::Assert,
            },
            StoredFact {
                predicate: Predicate::Likes,
                object: "hiking".into(),
                kind: FactKind::Assert,
            },
        ];
        let llm = vec![
            fact(Predicate::Name, "ana", FactKind::Assert),
            fact(Predicate::Name, "Anna", FactKind::Assert),
            fact(Predicate::Likes, "Hiking", FactKind::Assert),
            fact(Predicate::Likes, "mountain biking", FactKind::Assert),
            fact(Predicate::Likes, "Mountain Biking", FactKind::Assert),
            fact(Predicate::Location, "Lisbon", FactKind::Assert),
            fact(Predicate::Location, "Porto", FactKind::Assert),
            fact(Predicate::Employer, "Acme", FactKind::Retraction),
            fact(Predicate::Employer, "Initech", FactKind::Change),
        ];
        assert_eq!(
            merge(&rules, llm.clone()),
            vec![
                fact(Predicate::Likes, "mountain biking", FactKind::Assert),
                fact(Predicate::Location, "Lisbon", FactKind::Assert),
                fact(Predicate::Employer, "Acme", FactKind::Retraction),
                fact(Predicate::Employer, "Initech", FactKind::Change),
            ]
        );
        // Replacing the rules: only the LLM's own duplicates go.
        assert_eq!(merge(&[], llm.clone()).len(), 6);
        // The rules' "Ana" overrules the model's "Anna"; "ana" agrees with it.
        assert_eq!(
            overruled(&rules, &llm),
            vec![fact(Predicate::Name, "Anna", FactKind::Assert)]
        );
    }

    #[test]
    fn prompt_names_the_whole_vocabulary() {
        let p = system_prompt();
        for pred in Predicate::ALL {
            assert!(p.contains(&format!("- {} (", pred.as_str())), "{pred:?}");
        }
        assert!(p.contains("retraction"));
        let big = "é".repeat(MAX_INPUT_BYTES);
        let u = user_prompt(&big);
        assert!(u.len() <= MAX_INPUT_BYTES && u.chars().all(|c| c == 'é'));
    }
}
