//! `memlink eval-extractor`: the binary run on a small labelled file, its figures read back
//! from `--json`; its refusals of bad input; and, with `MEMLINK_EXTRACTOR=both|llm` against a
//! fake chat-completions server on 127.0.0.1 (canned answers, no network), how the LLM's
//! facts are scored beside the rules' and that a wrong LLM value is overruled, and listed.
//! The command needs no database and no Redis, so this test starts neither.

mod common;

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

const CASES: &str = r#"{"text": "hi, i am tom and i live in ohio", "expected": [{"predicate": "name", "object": "tom"}, {"predicate": "location", "object": "Ohio"}]}
{"text": "i have 2 dogs and a cat", "expected": [{"predicate": "pet", "object": "a dog"}, {"predicate": "pet", "object": "cat"}]}
{"text": "I love hiking", "expected": [{"predicate": "likes", "object": "hiking"}, {"predicate": "likes", "object": "camping"}]}

{"text": "my dad works for ups", "expected": []}
{"text": "I hate mornings", "expected": [{"predicate": "dislikes", "object": "mornings"}]}
{"text": "do you live in texas?", "expected": []}
"#;

/// A fresh directory for this test's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "memlink-eval-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, body).expect("write test file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn memlink(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memlink"));
    cmd.args(args)
        .env_remove("MEMLINK_EXTRACTOR")
        .env_remove("MEMLINK_LLM_BASE_URL")
        .env_remove("MEMLINK_LLM_MODEL")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run memlink")
}

fn json_report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON document")
}

fn extractor<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["extractors"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no extractor {name} in {report}"))
}

/// (tp, fp, fn) of `mode`'s micro counts.
fn micro(e: &Value, mode: &str) -> (u64, u64, u64) {
    let m = &e[mode]["micro"];
    (
        m["tp"].as_u64().unwrap(),
        m["fp"].as_u64().unwrap(),
        m["fn"].as_u64().unwrap(),
    )
}

#[test]
fn scores_the_rules_per_predicate_strict_and_lenient() {
    let dir = Scratch::new("rules");
    let file = dir.file("cases.jsonl", CASES);
    let path = file.to_str().unwrap();

    let report = json_report(&memlink(&["eval-extractor", path, "--json"], &[]));
    assert_eq!(report["messages"], 6);
    assert_eq!(report["expected"], 7);
    assert_eq!(report["extractors"].as_array().unwrap().len(), 1);
    let rules = extractor(&report, "rules");
    // "dogs" is not "a dog" strictly, but is leniently; "camping" is never said.
    assert_eq!(micro(rules, "strict"), (5, 1, 2));
    assert_eq!(micro(rules, "lenient"), (6, 0, 1));
    let lenient = &rules["lenient"];
    assert_eq!(lenient["micro"]["precision"], 1.0);
    assert_eq!(lenient["micro"]["recall"], 0.8571);
    assert_eq!(lenient["micro"]["f1"], 0.9231);
    assert_eq!(lenient["predicates"]["likes"]["recall"], 0.5);
    assert_eq!(rules["strict"]["predicates"]["pet"]["precision"], 0.5);
    assert_eq!(lenient["predicates"]["pet"]["recall"], 1.0);
    let misses = rules["misses"].as_array().unwrap();
    assert_eq!(misses.len(), 1);
    assert_eq!(misses[0]["line"], 3);
    assert_eq!(misses[0]["object"], "camping");
    assert_eq!(rules["false_positives"], json!([]));

    // The text report: the same figures and the listed miss.
    let text = memlink(&["eval-extractor", path], &[]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("file="), "{text}");
    assert!(text.contains("messages=6 expected_facts=7"), "{text}");
    assert!(
        text.contains("micro strict: tp=5 fp=1 fn=2; lenient: tp=6 fp=0 fn=1"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("micro ")
            && l.contains("0.833  0.714  0.769")
            && l.contains("1.000  0.857  0.923")),
        "{text}"
    );
    assert!(text.contains("line    3  likes \"camping\""), "{text}");
    // --summary leaves the lists out.
    let summary = memlink(&["eval-extractor", path, "--summary"], &[]);
    let summary = String::from_utf8(summary.stdout).unwrap();
    assert!(!summary.contains("misses"), "{summary}");
}

#[test]
fn refuses_bad_files_with_a_reason() {
    let dir = Scratch::new("bad");
    let bad = dir.file(
        "bad.jsonl",
        "{\"text\": \"hi\", \"expected\": []}\n{\"text\": \"x\", \"expected\": [{\"predicate\": \"colour\", \"object\": \"red\"}]}\n",
    );
    let out = memlink(&["eval-extractor", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2: fact 0: unknown predicate \"colour\""),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let missing = dir.0.join("absent.jsonl");
    let out = memlink(&["eval-extractor", missing.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    let good = dir.file("good.jsonl", CASES);
    let out = memlink(
        &["eval-extractor", good.to_str().unwrap()],
        &[("MEMLINK_EXTRACTOR", "both".to_owned())],
    );
    assert_eq!(out.status.code(), Some(64), "both without an endpoint");
    assert!(String::from_utf8_lossy(&out.stderr).contains("MEMLINK_LLM_BASE_URL"));
}

/// A chat-completions server on a loopback port answering from `answer(user message)`.
/// Each connection serves one request; see [`Closing`] for how it ends.
struct FakeLlm {
    port: u16,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeLlm {
    fn start(answer: fn(&str) -> Value) -> FakeLlm {
        FakeLlm::start_closing(answer, Closing::Announced)
    }

    fn start_closing(answer: fn(&str) -> Value, closing: Closing) -> FakeLlm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake LLM");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: the test's runs take seconds; this never outlives a minute.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !halt.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        std::thread::spawn(move || serve(stream, answer, closing));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeLlm {
            port,
            requests,
            stop,
        }
    }

    /// `eval-extractor` in `both` mode against this server, no retries.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MEMLINK_EXTRACTOR", "both".to_owned()),
            (
                "MEMLINK_LLM_BASE_URL",
                format!("http://127.0.0.1:{}/v1", self.port),
            ),
            ("MEMLINK_LLM_MODEL", "fake-model".to_owned()),
            ("MEMLINK_LLM_MAX_RETRIES", "0".to_owned()),
            ("MEMLINK_LLM_TIMEOUT_SECS", "10".to_owned()),
        ]
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How a connection ends after its one answer.
#[derive(Clone, Copy)]
enum Closing {
    /// `Connection: close` in the answer.
    Announced,
    /// Unannounced (a keep-alive answer), a moment after answering, as a server whose idle
    /// timeout fires does: by then the client may have sent its next request on it.
    Silent,
}

fn serve(stream: TcpStream, answer: fn(&str) -> Value, closing: Closing) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let Some(request) = common::http::read_request(&mut BufReader::new(read_half)) else {
        return;
    };
    let request: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let user = request["messages"][1]["content"].as_str().unwrap_or("");
    let content = answer(user).to_string();
    let envelope = json!({
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    })
    .to_string();
    let connection = match closing {
        Closing::Announced => "Connection: close\r\n",
        Closing::Silent => "",
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{connection}\r\n{}",
        envelope.len(),
        envelope
    );
    if let Closing::Silent = closing {
        let _ = stream.flush();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The model: finds "camping" the rules cannot (it was never said: a made-up fact), puts the
/// user in Texas though they said Ohio (a wrong single value), says UPS employs the user
/// (it employs their dad), and answers nonsense once (refused whole).
fn model(user: &str) -> Value {
    let facts = match user {
        "hi, i am tom and i live in ohio" => json!([
            {"predicate": "name", "object": "Tom"},
            {"predicate": "location", "object": "Texas"}
        ]),
        "I love hiking" => json!([
            {"predicate": "likes", "object": "hiking"},
            {"predicate": "likes", "object": "camping"}
        ]),
        "my dad works for ups" => json!([{"predicate": "employer", "object": "UPS"}]),
        "I hate mornings" => return json!({"facts": [{"predicate": "mood", "object": "grumpy"}]}),
        "i have 2 dogs and a cat" => json!([
            {"predicate": "pet", "object": "dogs"},
            {"predicate": "pet", "object": "cat"}
        ]),
        _ => json!([]),
    };
    json!({ "facts": facts })
}

#[test]
fn scores_the_llm_and_both_and_keeps_the_rules_values() {
    let fake = FakeLlm::start(model);
    let dir = Scratch::new("llm");
    let file = dir.file("cases.jsonl", CASES);
    let env = fake.env();
    let report = json_report(&memlink(
        &["eval-extractor", file.to_str().unwrap(), "--json"],
        &env,
    ));
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        6,
        "one request a message"
    );
    let names: Vec<&str> = report["extractors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["rules", "llm", "both"]);

    // The rules alone, as without an LLM.
    assert_eq!(micro(extractor(&report, "rules"), "lenient"), (6, 0, 1));

    // llm: its valid answers replace the rules' facts; for the refused answer ("mood") the
    // rules' "mornings" stands. Texas and UPS are wrong, camping is found.
    let llm = extractor(&report, "llm");
    assert_eq!(llm["llm_refused"], 1);
    assert_eq!(llm["llm_failed"], 0);
    assert_eq!(llm["llm_refusals"], json!({"unknown_predicate": 1}));
    assert_eq!(llm["llm_failures"], json!({}));
    assert_eq!(micro(llm, "lenient"), (6, 2, 1));

    // both: the rules' facts stay; the model adds camping and UPS (no rule said otherwise);
    // its Texas is overruled by the rules' Ohio, and listed as such.
    let both = extractor(&report, "both");
    assert_eq!(micro(both, "lenient"), (7, 1, 0));
    let extra: Vec<&str> = both["false_positives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["object"].as_str().unwrap())
        .collect();
    assert_eq!(extra, vec!["UPS"]);
    let overruled = both["overruled_by_rules"].as_array().unwrap();
    assert_eq!(overruled.len(), 1);
    assert_eq!(overruled[0]["predicate"], "location");
    assert_eq!(overruled[0]["object"], "Texas");
    assert_eq!(overruled[0]["line"], 1);

    // The text report says the same.
    let text = memlink(&["eval-extractor", file.to_str().unwrap()], &env);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("extractor=both"), "{text}");
    assert!(
        text.contains("llm facts overruled by a rule's fact: 1"),
        "{text}"
    );
    assert!(text.contains("location \"Texas\""), "{text}");
    assert!(
        text.contains("llm_refusals: unknown_predicate=1\n"),
        "{text}"
    );
    assert!(!text.contains("llm_failures:"), "{text}");
}

/// A server that closes kept-alive connections without saying so, just after answering: the
/// command sends its next request on the connection being closed (one at a time, at once).
/// With no retries allowed, that request must still be answered (asked again on a new
/// connection), so every message gets its answer and the scores are those of a server that
/// announces its closes.
#[test]
fn a_server_that_closes_kept_alive_connections_loses_no_answer() {
    let dir = Scratch::new("closing");
    let file = dir.file("cases.jsonl", CASES);
    let score = |closing| {
        let fake = FakeLlm::start_closing(model, closing);
        let mut env = fake.env();
        env.push(("MEMLINK_LLM_CONCURRENCY", "1".to_owned()));
        json_report(&memlink(
            &["eval-extractor", file.to_str().unwrap(), "--json"],
            &env,
        ))
    };
    let silent = score(Closing::Silent);
    let llm = extractor(&silent, "llm");
    assert_eq!(llm["llm_failed"], 0, "{llm}");
    assert_eq!(llm["llm_failures"], json!({}));
    assert_eq!(llm["llm_refusals"], json!({"unknown_predicate": 1}));
    let announced = score(Closing::Announced);
    for name in ["llm", "both"] {
        for mode in ["strict", "lenient"] {
            assert_eq!(
                micro(extractor(&silent, name), mode),
                micro(extractor(&announced, name), mode),
                "{name} {mode}"
            );
        }
    }
}
