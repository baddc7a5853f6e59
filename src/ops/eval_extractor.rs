//! `memlink eval-extractor FILE.jsonl`: measures the fact extractor on the user's own labelled
//! messages before they trust it, offline: no database, no Redis, no daemon.
//!
//! Each line of the file is `{"text": ..., "expected": [{"predicate": ..., "object": ...,
//! "kind": ...}]}` (`kind` optional; `facts` is accepted for `expected`, so the golden corpus
//! reads as is). The rules are always scored; with `MEMLINK_EXTRACTOR=llm|both` (and the
//! `MEMLINK_LLM_*` settings) the configured model is asked about every message too, and `llm`
//! and `both` are scored as the daemon would store them: `llm` replaces the rules' facts when
//! its answer validates, `both` adds its valid facts beside the rules', whose single-valued
//! facts win. LLM facts a rule overruled are listed, never dropped silently.
//!
//! It must never write anywhere but stdout/stderr, and never send the messages anywhere but
//! the configured LLM endpoint. The scoring itself is the engine's
//! (`memlink_actors::extract::score`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use memlink_actors::extract::score::{self, Labelled, Mode, Outcome, Tally};
use memlink_actors::extract::{self, FactKind, Predicate};
use memlink_actors::status::StatusBoard;
use serde_json::{json, Value};

use crate::config::{LlmConfig, LlmMode};
use crate::llm::client::{LlmClient, Purpose};
use crate::llm::facts::{self, LlmFact, StoredFact};

/// What `memlink eval-extractor` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub file: PathBuf,
    /// Print the report as JSON.
    pub json: bool,
    /// Only the scores: no list of misses and false positives.
    pub summary: bool,
}

/// Why the file could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("no labelled message in the file")]
    Empty,
}

/// One labelled message.
#[derive(Debug, Clone)]
pub struct Case {
    pub line: usize,
    pub text: String,
    pub expected: Vec<Labelled>,
}

/// Parses the JSONL file's text; every line must be valid, or the whole file is refused.
pub fn parse_cases(body: &str) -> Result<Vec<Case>, EvalError> {
    let mut cases = Vec::new();
    for (n, raw) in body.lines().enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| EvalError::Line { line, reason };
        let v: Value = serde_json::from_str(raw).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let text = v
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no \"text\" string".to_owned()))?
            .to_owned();
        let list = v
            .get("expected")
            .or_else(|| v.get("facts"))
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"expected\" array".to_owned()))?;
        let mut expected = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let field = |k: &str| f.get(k).and_then(Value::as_str);
            let p = field("predicate").ok_or_else(|| bad(format!("fact {i}: no predicate")))?;
            let predicate = Predicate::parse(p)
                .ok_or_else(|| bad(format!("fact {i}: unknown predicate {p:?}")))?;
            let object = field("object")
                .filter(|o| !o.trim().is_empty())
                .ok_or_else(|| bad(format!("fact {i}: no object")))?
                .to_owned();
            let kind = match f.get("kind") {
                None | Some(Value::Null) => None,
                Some(k) => Some(
                    k.as_str()
                        .and_then(FactKind::parse)
                        .ok_or_else(|| bad(format!("fact {i}: unknown kind {k}")))?,
                ),
            };
            expected.push(Labelled {
                predicate,
                object,
                kind,
            });
        }
        cases.push(Case {
            line,
            text,
            expected,
        });
    }
    if cases.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(cases)
}

/// The rules' facts for a message, as scored.
pub fn rules_facts(text: &str) -> Vec<Labelled> {
    extract::extract(text)
        .into_iter()
        .map(|f| Labelled {
            predicate: f.predicate,
            object: f.object,
            kind: Some(f.kind),
        })
        .collect()
}

/// What the model said about one message.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmAnswer {
    Valid(Vec<LlmFact>),
    /// Refused by validation (code), or no answer at all (error code): the rules' result stands.
    Refused(String),
    Failed(String),
}

fn from_llm(f: &LlmFact) -> Labelled {
    Labelled {
        predicate: f.predicate,
        object: f.object.clone(),
        kind: Some(f.kind),
    }
}

/// The facts the daemon would keep for a message in `mode`, and the LLM facts a rule's fact
/// overruled (in `both`).
pub fn combine(
    mode: LlmMode,
    rules: &[Labelled],
    answer: &LlmAnswer,
) -> (Vec<Labelled>, Vec<Labelled>) {
    let LlmAnswer::Valid(found) = answer else {
        return (rules.to_vec(), Vec::new());
    };
    match mode {
        LlmMode::Llm => (
            facts::merge(&[], found.clone())
                .iter()
                .map(from_llm)
                .collect(),
            Vec::new(),
        ),
        LlmMode::Both => {
            let stored: Vec<StoredFact> = rules
                .iter()
                .map(|f| StoredFact {
                    predicate: f.predicate,
                    object: f.object.clone(),
                    kind: f.kind.unwrap_or(FactKind::Assert),
                })
                .collect();
            let added = facts::merge(&stored, found.clone());
            let overruled = facts::overruled(&stored, found)
                .iter()
                .map(from_llm)
                .collect();
            let mut all = rules.to_vec();
            all.extend(added.iter().map(from_llm));
            (all, overruled)
        }
    }
}

/// One extractor's results over the file.
pub struct Run {
    pub name: String,
    pub facts: Vec<Vec<Labelled>>,
    pub overruled: Vec<Vec<Labelled>>,
    /// Why answers were refused (validation codes) or failed (request error codes), counted:
    /// what to look at when a model scores low.
    pub refusals: BTreeMap<String, usize>,
    pub failures: BTreeMap<String, usize>,
}

impl Run {
    /// Answers refused by validation: the rules' facts stand for those messages.
    pub fn refused(&self) -> usize {
        self.refusals.values().sum()
    }

    /// Requests that brought no answer.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }
}

fn report(cases: &[Case], run: &Run, mode: Mode) -> (Tally, Vec<Outcome>) {
    let mut tally = Tally::default();
    let mut outcomes = Vec::with_capacity(cases.len());
    for (c, got) in cases.iter().zip(&run.facts) {
        let o = score::score(&c.expected, got, mode);
        tally.add(&c.expected, got, &o);
        outcomes.push(o);
    }
    (tally, outcomes)
}

fn counts_json(c: &score::Counts) -> Value {
    json!({
        "expected": c.gold(), "tp": c.tp, "fp": c.fp, "fn": c.fn_,
        "precision": round4(c.precision()), "recall": round4(c.recall()), "f1": round4(c.f1()),
    })
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The whole report as JSON: per extractor, per mode, micro and per predicate, and (unless
/// `summary`) the lenient misses and false positives.
pub fn report_json(path: &str, cases: &[Case], runs: &[Run], summary: bool) -> Value {
    let mut extractors = Vec::new();
    for run in runs {
        let mut entry = serde_json::Map::new();
        entry.insert("name".into(), json!(run.name));
        for mode in Mode::BOTH {
            let (tally, outcomes) = report(cases, run, mode);
            let per: serde_json::Map<String, Value> = tally
                .per_predicate
                .iter()
                .map(|(p, c)| (p.as_str().to_owned(), counts_json(c)))
                .collect();
            entry.insert(
                mode.as_str().into(),
                json!({"micro": counts_json(&tally.micro), "predicates": per}),
            );
            if mode == Mode::Lenient && !summary {
                let (misses, extras) = listings(cases, run, &outcomes);
                entry.insert("misses".into(), Value::Array(misses));
                entry.insert("false_positives".into(), Value::Array(extras));
            }
        }
        if run.name != "rules" {
            entry.insert("llm_refused".into(), json!(run.refused()));
            entry.insert("llm_failed".into(), json!(run.failed()));
            entry.insert("llm_refusals".into(), json!(run.refusals));
            entry.insert("llm_failures".into(), json!(run.failures));
            let overruled: Vec<Value> = cases
                .iter()
                .zip(&run.overruled)
                .flat_map(|(c, o)| o.iter().map(move |f| fact_json(c, f)))
                .collect();
            entry.insert("overruled_by_rules".into(), Value::Array(overruled));
        }
        extractors.push(Value::Object(entry));
    }
    json!({
        "file": path,
        "messages": cases.len(),
        "expected": cases.iter().map(|c| c.expected.len()).sum::<usize>(),
        "extractors": extractors,
    })
}

fn fact_json(c: &Case, f: &Labelled) -> Value {
    json!({
        "line": c.line, "predicate": f.predicate.as_str(), "object": f.object,
        "kind": f.kind.map(FactKind::as_str), "text": c.text,
    })
}

fn listings(cases: &[Case], run: &Run, outcomes: &[Outcome]) -> (Vec<Value>, Vec<Value>) {
    let mut misses = Vec::new();
    let mut extras = Vec::new();
    for ((c, got), o) in cases.iter().zip(&run.facts).zip(outcomes) {
        misses.extend(o.missed.iter().map(|&i| fact_json(c, &c.expected[i])));
        extras.extend(o.extra.iter().map(|&i| fact_json(c, &got[i])));
    }
    (misses, extras)
}

/// The report as text: a table per extractor, then the lenient misses and false positives.
pub fn report_text(path: &str, cases: &[Case], runs: &[Run], summary: bool) -> String {
    use std::fmt::Write as _;
    let expected: usize = cases.iter().map(|c| c.expected.len()).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "file={path} messages={} expected_facts={expected}",
        cases.len()
    );
    for run in runs {
        let (strict, _) = report(cases, run, Mode::Strict);
        let (lenient, outcomes) = report(cases, run, Mode::Lenient);
        let _ = writeln!(out, "\nextractor={}", run.name);
        if run.name != "rules" {
            let _ = writeln!(
                out,
                "llm_refused={} llm_failed={} (the rules' facts stand for those messages)",
                run.refused(),
                run.failed()
            );
            for (label, counts) in [("refusals", &run.refusals), ("failures", &run.failures)] {
                if !counts.is_empty() {
                    let list: Vec<String> =
                        counts.iter().map(|(c, n)| format!("{c}={n}")).collect();
                    let _ = writeln!(out, "llm_{label}: {}", list.join(" "));
                }
            }
        }
        let _ = writeln!(
            out,
            "{:<15} {:>5} | {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6}",
            "predicate", "gold", "P", "R", "F1", "P", "R", "F1"
        );
        let _ = writeln!(
            out,
            "{:<15} {:>5} | {:^20} | {:^20}",
            "", "", "strict", "lenient"
        );
        let mut row = |name: &str, s: &score::Counts, l: &score::Counts| {
            let _ = writeln!(
                out,
                "{name:<15} {:>5} | {:>6.3} {:>6.3} {:>6.3} | {:>6.3} {:>6.3} {:>6.3}",
                l.gold(),
                s.precision(),
                s.recall(),
                s.f1(),
                l.precision(),
                l.recall(),
                l.f1()
            );
        };
        for (p, l) in &lenient.per_predicate {
            let s = strict.per_predicate.get(p).copied().unwrap_or_default();
            row(p.as_str(), &s, l);
        }
        row("micro", &strict.micro, &lenient.micro);
        let _ = writeln!(
            out,
            "micro strict: tp={} fp={} fn={}; lenient: tp={} fp={} fn={}",
            strict.micro.tp,
            strict.micro.fp,
            strict.micro.fn_,
            lenient.micro.tp,
            lenient.micro.fp,
            lenient.micro.fn_
        );
        if summary {
            continue;
        }
        let line = |c: &Case, f: &Labelled| {
            format!(
                "  line {:>4}  {} {:?}  in {:?}",
                c.line,
                f.predicate.as_str(),
                f.object,
                c.text
            )
        };
        let mut misses = Vec::new();
        let mut extras = Vec::new();
        for ((c, got), o) in cases.iter().zip(&run.facts).zip(&outcomes) {
            misses.extend(o.missed.iter().map(|&i| line(c, &c.expected[i])));
            extras.extend(o.extra.iter().map(|&i| line(c, &got[i])));
        }
        let _ = writeln!(out, "misses (lenient): {}", misses.len());
        for m in &misses {
            let _ = writeln!(out, "{m}");
        }
        let _ = writeln!(out, "false positives (lenient): {}", extras.len());
        for e in &extras {
            let _ = writeln!(out, "{e}");
        }
        let overruled: Vec<String> = cases
            .iter()
            .zip(&run.overruled)
            .flat_map(|(c, o)| o.iter().map(move |f| line(c, f)))
            .collect();
        if run.name == "both" {
            let _ = writeln!(
                out,
                "llm facts overruled by a rule's fact: {}",
                overruled.len()
            );
            for o in &overruled {
                let _ = writeln!(out, "{o}");
            }
        }
    }
    out
}

/// Asks the model about every message, at most `concurrency` at once, in file order.
async fn ask_llm(config: &LlmConfig, cases: &[Case]) -> Vec<LlmAnswer> {
    let client = LlmClient::new(
        config,
        crate::llm::enricher::request_backoff(),
        StatusBoard::new(),
        Arc::new(crate::system::ThreadEntropy),
    );
    let system = facts::system_prompt();
    let client = &client;
    let system = &system;
    stream::iter(cases.iter())
        .map(|c| async move {
            let subject = format!("eval_line={}", c.line);
            match client
                .complete(
                    Purpose::Facts,
                    &subject,
                    system,
                    &facts::user_prompt(&c.text),
                )
                .await
            {
                Ok(answer) => match facts::parse_facts(&answer.content) {
                    Ok(found) => LlmAnswer::Valid(found),
                    Err(r) => LlmAnswer::Refused(r.code.to_owned()),
                },
                Err(e) => LlmAnswer::Failed(e.code().to_owned()),
            }
        })
        .buffered(config.concurrency)
        .collect()
        .await
}

/// Scores the rules and, when one is configured, the LLM in `llm` and `both` modes.
pub fn evaluate(cases: &[Case], llm: Option<&LlmConfig>) -> Vec<Run> {
    let rules: Vec<Vec<Labelled>> = cases.iter().map(|c| rules_facts(&c.text)).collect();
    let mut runs = vec![Run {
        name: "rules".to_owned(),
        facts: rules.clone(),
        overruled: vec![Vec::new(); cases.len()],
        refusals: BTreeMap::new(),
        failures: BTreeMap::new(),
    }];
    let Some(config) = llm else {
        return runs;
    };
    let answers = actix_web::rt::System::new().block_on(ask_llm(config, cases));
    let (mut refusals, mut failures) = (BTreeMap::new(), BTreeMap::new());
    for a in &answers {
        match a {
            LlmAnswer::Valid(_) => {}
            LlmAnswer::Refused(code) => *refusals.entry(code.clone()).or_insert(0) += 1,
            LlmAnswer::Failed(code) => *failures.entry(code.clone()).or_insert(0) += 1,
        }
    }
    for mode in [LlmMode::Llm, LlmMode::Both] {
        let (facts, overruled) = rules
            .iter()
            .zip(&answers)
            .map(|(r, a)| combine(mode, r, a))
            .unzip();
        runs.push(Run {
            name: mode.as_str().to_owned(),
            facts,
            overruled,
            refusals: refusals.clone(),
            failures: failures.clone(),
        });
    }
    runs
}

/// Runs the command; returns the process exit code (0, or 64/65/66 on bad input).
pub fn run(opts: &Options) -> u8 {
    let path = opts.file.display().to_string();
    let llm = match crate::config::llm_config(&|k| std::env::var(k).ok()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("memlink: configuration error: {e}");
            return crate::exit::CONFIG;
        }
    };
    let body = match std::fs::read_to_string(&opts.file) {
        Ok(b) => b,
        Err(source) => {
            eprintln!("memlink: {}", EvalError::Read { path, source });
            return crate::exit::NO_INPUT;
        }
    };
    let cases = match parse_cases(&body) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("memlink: {path}: {e}");
            return crate::exit::DATA;
        }
    };
    let runs = evaluate(&cases, llm.as_ref());
    let report = if opts.json {
        format!("{}\n", report_json(&path, &cases, &runs, opts.summary))
    } else {
        report_text(&path, &cases, &runs, opts.summary)
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), report.as_bytes());
    crate::exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_lines_with_their_number() {
        let err = |s: &str| parse_cases(s).unwrap_err().to_string();
        assert_eq!(err(""), "no labelled message in the file");
        assert!(err("{\"text\": \"hi\"}").starts_with("line 1: no \"expected\""));
        assert!(err("\n{").starts_with("line 2: invalid JSON"));
        assert!(
            err(r#"{"text": "x", "expected": [{"predicate": "colour", "object": "red"}]}"#)
                .contains("unknown predicate \"colour\"")
        );
        assert!(err(
            r#"{"text": "x", "expected": [{"predicate": "pet", "object": "cat", "kind": "maybe"}]}"#
        )
        .contains("unknown kind"));
        let ok = parse_cases(
            "{\"text\": \"i have a cat\", \"facts\": [{\"predicate\": \"pet\", \"object\": \"cat\", \"kind\": \"assert\"}]}\n\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].expected[0].kind, Some(FactKind::Assert));
    }

    #[test]
    fn both_keeps_the_rules_single_valued_facts() {
        let rules = rules_facts("i live in ohio");
        let wrong = LlmAnswer::Valid(vec![
            LlmFact {
                predicate: Predicate::Location,
                object: "Texas".into(),
                kind: FactKind::Assert,
            },
            LlmFact {
                predicate: Predicate::Likes,
                object: "cheese".into(),
                kind: FactKind::Assert,
            },
        ]);
        let (kept, overruled) = combine(LlmMode::Both, &rules, &wrong);
        let objects: Vec<&str> = kept.iter().map(|f| f.object.as_str()).collect();
        assert_eq!(objects, vec!["ohio", "cheese"]);
        assert_eq!(overruled.len(), 1);
        assert_eq!(overruled[0].object, "Texas");
        // In llm mode a valid answer replaces the rules; a refused one leaves them.
        let (llm_only, _) = combine(LlmMode::Llm, &rules, &wrong);
        assert_eq!(llm_only[0].object, "Texas");
        let (fallback, _) = combine(LlmMode::Llm, &rules, &LlmAnswer::Refused("x".into()));
        assert_eq!(fallback, rules);
    }
}
