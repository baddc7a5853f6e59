//! The optional LLM extractor and titles, end to end against a fake chat-completions server
//! that the test starts on 127.0.0.1 (canned answers, every request recorded; no network),
//! over http or https (a certificate of a throwaway CA made in the test).

mod common;

use memlink_actors::extract::EXTRACTOR_VERSION;

use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// What the fake server does with one request.
enum Reply {
    /// 200 with a chat-completions answer whose message content is `content`.
    Answer {
        content: String,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    /// Sleeps, then answers `content`.
    Slow(Duration, String),
}

fn answer(content: impl Into<String>, prompt_tokens: u64, completion_tokens: u64) -> Reply {
    Reply::Answer {
        content: content.into(),
        prompt_tokens,
        completion_tokens,
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    authorization: Option<String>,
    body: Value,
}

impl Recorded {
    fn is_title(&self) -> bool {
        system_text(&self.body).contains("title of a chat")
    }

    fn user_text(&self) -> String {
        self.body["messages"][1]["content"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

fn system_text(body: &Value) -> String {
    body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A chat-completions server on a loopback port. Stops accepting when dropped.
struct FakeLlm {
    port: u16,
    https: bool,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl FakeLlm {
    fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeLlm {
        FakeLlm::start_with(handler, None)
    }

    /// Over https, presenting the certificate of `tls`.
    fn start_tls(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
        tls: Arc<rustls::ServerConfig>,
    ) -> FakeLlm {
        FakeLlm::start_with(handler, Some(tls))
    }

    fn start_with(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> FakeLlm {
        let https = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake LLM");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let in_flight = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let (log, halt, gauge) = (requests.clone(), stop.clone(), in_flight.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (log, handler, gauge) = (log.clone(), handler.clone(), gauge.clone());
                        let tls = tls.clone();
                        std::thread::spawn(move || {
                            let now = gauge.0.fetch_add(1, Ordering::SeqCst) + 1;
                            gauge.1.fetch_max(now, Ordering::SeqCst);
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                            match tls.map(rustls::ServerConnection::new) {
                                None => serve(stream, &log, &*handler),
                                Some(Ok(conn)) => {
                                    serve(rustls::StreamOwned::new(conn, stream), &log, &*handler)
                                }
                                Some(Err(_)) => {}
                            }
                            gauge.0.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeLlm {
            port,
            https,
            requests,
            stop,
            in_flight,
        }
    }

    fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/v1", self.port)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self, title: bool) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.is_title() == title)
            .count()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One request per connection (`Connection: close`), so a sleeping answer blocks nothing else.
fn serve(stream: impl Read + Write, log: &Mutex<Vec<Recorded>>, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    let Some(request) = http::read_request(&mut reader) else {
        return;
    };
    let recorded = Recorded {
        method: request.method,
        path: request.path,
        authorization: request.authorization,
        body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
    };
    log.lock().unwrap().push(recorded.clone());
    let (content, prompt, completion) = match handler(&recorded) {
        Reply::Answer {
            content,
            prompt_tokens,
            completion_tokens,
        } => (content, prompt_tokens, completion_tokens),
        Reply::Slow(d, content) => {
            std::thread::sleep(d);
            (content, 1, 1)
        }
    };
    let payload = json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    })
    .to_string();
    // Everything sent was read (Content-Length), so nothing buffered is lost.
    let mut out = reader.into_inner();
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    let _ = out.flush();
}

fn llm_env<'a>(fake: &'a str, mode: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MEMLINK_EXTRACTOR", mode),
        ("MEMLINK_LLM_BASE_URL", fake),
        ("MEMLINK_LLM_MODEL", "test-model"),
    ]
}

/// The enrichment row of a message: (status, facts_added, last_error).
fn enrichment(env: &TestEnv, message_id: &str) -> Option<(String, i32, Option<String>)> {
    env.pg()
        .query_opt(
            "SELECT status, facts_added, last_error FROM llm_enrichment WHERE message_id = $1::text::uuid",
            &[&message_id],
        )
        .expect("llm_enrichment")
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

fn wait_enriched(env: &TestEnv, message_id: &str) -> (String, i32, Option<String>) {
    eventually("the message's LLM pass ends", LONG, || {
        enrichment(env, message_id).filter(|(s, _, _)| s != "pending")
    })
}

/// The title row of a chat: (status, last_error).
fn wait_title_pass(env: &TestEnv, chat: &str) -> (String, Option<String>) {
    eventually("the chat's LLM title pass ends", LONG, || {
        env.pg()
            .query_opt(
                "SELECT status, last_error FROM llm_titles WHERE chat_id = $1::text::uuid",
                &[&chat],
            )
            .expect("llm_titles")
            .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
            .filter(|(s, _)| s != "pending")
    })
}

fn chat_title(env: &TestEnv, chat: &str) -> (Option<String>, Option<String>) {
    let r = env
        .pg()
        .query_one(
            "SELECT title, title_source FROM chats WHERE id = $1::text::uuid",
            &[&chat],
        )
        .expect("chat");
    (r.get(0), r.get(1))
}

fn post(daemon: &Daemon, chat: &str, user: &str, text: &str) -> String {
    let (code, body) = daemon.post_message(chat, user, "user", text);
    assert_eq!(code, 201, "{body}");
    body["message_id"].as_str().expect("message_id").to_owned()
}

/// (predicate, object, rule_id, extractor, extractor_version) of a user's facts, sorted.
fn facts_of(env: &TestEnv, user: &str) -> Vec<(String, String, String, String, i32)> {
    let mut v: Vec<_> = env
        .pg()
        .query(
            "SELECT predicate, object, rule_id, extractor, extractor_version FROM facts WHERE user_id = $1",
            &[&user],
        )
        .expect("facts")
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    v.sort();
    v
}

#[test]
fn valid_llm_facts_are_added_with_provenance_and_a_title_replaces_the_fallback() {
    let fake = FakeLlm::start(|r| {
        if r.is_title() {
            answer(r#"{"title": "  \"Ana's   hiking\n plans.\" "}"#, 30, 5)
        } else if r.user_text().starts_with("My name is Ana") {
            answer(
                r#"{"facts": [
                    {"predicate": "name", "object": "ana", "kind": "assert"},
                    {"predicate": "name", "object": "Anna", "kind": "assert"},
                    {"predicate": "likes", "object": "Hiking", "kind": "assert"},
                    {"predicate": "likes", "object": "mountain biking", "kind": "assert"},
                    {"predicate": "location", "object": "Lisbon", "kind": "assert"}
                ]}"#,
                100,
                20,
            )
        } else {
            answer(r#"{"facts": []}"#, 7, 2)
        }
    });
    let env = TestEnv::new();
    let url = fake.base_url();
    let mut extra = llm_env(&url, "both");
    extra.push(("MEMLINK_LLM_API_KEY", "sk-test-secret-key"));
    let daemon = env.spawn_daemon(&extra);
    let chat = new_uuid();
    let first = post(&daemon, &chat, "ana", "My name is Ana and I love hiking.");

    let (status, added, error) = wait_enriched(&env, &first);
    assert_eq!((status.as_str(), added, error), ("done", 2, None));
    assert_eq!(
        facts_of(&env, "ana"),
        vec![
            (
                "likes".into(),
                "hiking".into(),
                "likes.like".into(),
                "rules".into(),
                EXTRACTOR_VERSION
            ),
            (
                "likes".into(),
                "mountain biking".into(),
                "llm".into(),
                "llm:test-model".into(),
                1
            ),
            (
                "location".into(),
                "Lisbon".into(),
                "llm".into(),
                "llm:test-model".into(),
                1
            ),
            (
                "name".into(),
                "Ana".into(),
                "name.my_name_is".into(),
                "rules".into(),
                EXTRACTOR_VERSION
            ),
        ]
    );
    let (_, body) = daemon.get("/v1/users/ana/facts");
    let mut current: Vec<(String, String)> = body["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["predicate"].as_str().unwrap().to_owned(),
                f["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    current.sort();
    assert_eq!(
        current,
        vec![
            ("likes".into(), "hiking".into()),
            ("likes".into(), "mountain biking".into()),
            ("location".into(), "Lisbon".into()),
            ("name".into(), "Ana".into()),
        ]
    );

    assert_eq!(wait_title_pass(&env, &chat), ("done".into(), None));
    assert_eq!(
        chat_title(&env, &chat),
        (Some("Ana's hiking plans".into()), Some("llm".into()))
    );

    // The requests: the OpenAI-compatible shape, the key as a bearer token.
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in &requests {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1/chat/completions")
        );
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer sk-test-secret-key")
        );
        assert_eq!(r.body["model"], "test-model");
        assert_eq!(r.body["temperature"], 0);
        assert_eq!(r.body["response_format"], json!({"type": "json_object"}));
        assert_eq!(r.body["messages"][0]["role"], "system");
        assert_eq!(r.body["messages"][1]["role"], "user");
        assert_eq!(r.user_text(), "My name is Ana and I love hiking.");
    }
    assert_eq!(fake.count(true), 1);

    // A later message of the same chat is enriched too, but the title is asked only once.
    let second = post(&daemon, &chat, "ana", "I have a cat.");
    assert_eq!(wait_enriched(&env, &second), ("done".into(), 0, None));
    assert_eq!(fake.count(false), 2);
    assert_eq!(fake.count(true), 1);
    assert_eq!(env.count("SELECT count(*) FROM llm_titles"), 1);

    // Token counts, on the status board.
    let llm = daemon.status()["llm"].clone();
    assert_eq!(llm["requests"], 3, "{llm}");
    assert_eq!(llm["prompt_tokens"], 137, "{llm}");
    assert_eq!(llm["completion_tokens"], 27, "{llm}");
    assert_eq!(llm["facts_added"], 2, "{llm}");
    assert_eq!(llm["messages_done"], 2, "{llm}");
    assert_eq!(llm["titles_done"], 1, "{llm}");
    assert_eq!(llm["backlog"]["messages_pending"], 0, "{llm}");
    let calls = daemon.log_lines_with("event=llm_call ");
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|l| l.contains("prompt_tokens=100 completion_tokens=20 latency_ms=")),
        "{calls:?}"
    );
    assert!(
        !daemon.log_text().contains("sk-test-secret-key"),
        "the API key reached the log"
    );
}

#[test]
fn invalid_answers_leave_the_rules_result_and_log_why() {
    let fake = FakeLlm::start(|r| {
        let text = r.user_text();
        match (r.is_title(), text.as_str()) {
            (false, "My name is Bea.") => answer("not json {", 10, 1),
            (false, _) => answer(
                r#"{"facts": [{"predicate": "location", "object": "Porto"},
                              {"predicate": "favourite_colour", "object": "blue"}]}"#,
                10,
                1,
            ),
            (true, "My name is Bea.") => answer(r#"{"title": " \"\" "}"#, 10, 1),
            (true, _) => answer(r#"{"title": "Life in Porto"}"#, 10, 1),
        }
    });
    let env = TestEnv::new();
    let url = fake.base_url();
    let daemon = env.spawn_daemon(&llm_env(&url, "both"));
    let (chat_a, chat_b) = (new_uuid(), new_uuid());
    let a = post(&daemon, &chat_a, "bea", "My name is Bea.");
    let b = post(&daemon, &chat_b, "bea", "I live in Lisbon.");

    let (status, added, error) = wait_enriched(&env, &a);
    assert_eq!((status.as_str(), added), ("rejected", 0));
    assert!(
        error.as_deref().unwrap().starts_with("malformed_json: "),
        "{error:?}"
    );
    let (status, added, error) = wait_enriched(&env, &b);
    assert_eq!((status.as_str(), added), ("rejected", 0));
    assert_eq!(
        error.as_deref(),
        Some("unknown_predicate: fact 1: \"favourite_colour\"")
    );
    // The rules' facts stand, and nothing of the refused answers was used (not even the
    // valid-looking first fact of the second one).
    assert_eq!(
        facts_of(&env, "bea"),
        vec![
            (
                "location".into(),
                "Lisbon".into(),
                "location.live_in".into(),
                "rules".into(),
                EXTRACTOR_VERSION
            ),
            (
                "name".into(),
                "Bea".into(),
                "name.my_name_is".into(),
                "rules".into(),
                EXTRACTOR_VERSION
            ),
        ]
    );
    let rejected = daemon.log_lines_with("event=llm_rejected");
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected
        .iter()
        .any(|l| l.contains(&format!("message_id={a} reason=malformed_json"))));
    assert!(rejected
        .iter()
        .any(|l| l.contains(&format!("message_id={b} reason=unknown_predicate"))));

    // A blank title is refused: the fallback stays. The other chat gets its LLM title.
    let (status, error) = wait_title_pass(&env, &chat_a);
    assert_eq!(status, "rejected");
    assert!(error.unwrap().starts_with("empty_title"));
    assert_eq!(
        chat_title(&env, &chat_a),
        (Some("My name is Bea.".into()), Some("fallback".into()))
    );
    assert_eq!(wait_title_pass(&env, &chat_b), ("done".into(), None));
    assert_eq!(
        chat_title(&env, &chat_b),
        (Some("Life in Porto".into()), Some("llm".into()))
    );
    let failed = daemon.log_lines_with("event=llm_title_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains(&format!("chat_id={chat_a} reason=empty_title")));

    let llm = daemon.status()["llm"].clone();
    assert_eq!(llm["messages_rejected"], 2, "{llm}");
    assert_eq!(llm["backlog"]["messages_rejected"], 2, "{llm}");
    assert_eq!(llm["backlog"]["titles_failed"], 1, "{llm}");
    assert_eq!(llm["facts_added"], 0, "{llm}");
    assert_eq!(fake.requests().len(), 4);
}

#[test]
fn timeouts_are_retried_then_marked_failed_and_the_fallbacks_stay() {
    let fake =
        FakeLlm::start(|_| Reply::Slow(Duration::from_millis(2500), r#"{"facts": []}"#.into()));
    let env = TestEnv::new();
    let url = fake.base_url();
    let mut extra = llm_env(&url, "llm");
    extra.push(("MEMLINK_LLM_TIMEOUT_SECS", "1"));
    extra.push(("MEMLINK_LLM_MAX_RETRIES", "2"));
    let daemon = env.spawn_daemon(&extra);
    let chat = new_uuid();
    let id = post(&daemon, &chat, "cy", "My name is Cy.");

    // The rules' fact is there at once; the slow model blocks neither it nor the health checks.
    eventually("the rules' fact", LONG, || {
        (facts_of(&env, "cy").len() == 1).then_some(())
    });
    eventually("a pending LLM pass", LONG, || {
        enrichment(&env, &id).filter(|(s, _, _)| s == "pending")
    });
    let (code, body) = daemon.get("/readyz");
    assert_eq!(code, 200, "ready while the model is slow: {body}");

    let (status, added, error) = wait_enriched(&env, &id);
    assert_eq!((status.as_str(), added), ("failed", 0));
    assert!(
        error
            .as_deref()
            .unwrap()
            .starts_with("timed out after 1000 ms"),
        "{error:?}"
    );
    let (status, error) = wait_title_pass(&env, &chat);
    assert_eq!(status, "failed");
    assert!(error.unwrap().starts_with("timed out"));

    // One try and two retries each, then no more.
    assert_eq!(fake.count(false), 3);
    assert_eq!(fake.count(true), 3);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fake.requests().len(), 6, "nothing is retried after failing");

    assert_eq!(
        facts_of(&env, "cy"),
        vec![(
            "name".into(),
            "Cy".into(),
            "name.my_name_is".into(),
            "rules".into(),
            EXTRACTOR_VERSION
        )]
    );
    assert_eq!(
        chat_title(&env, &chat),
        (Some("My name is Cy.".into()), Some("fallback".into()))
    );
    let failed = daemon.log_lines_with("event=llm_title_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("reason=timeout"), "{failed:?}");
    assert_eq!(daemon.log_lines_with("event=llm_failed").len(), 1);
    assert_eq!(daemon.log_lines_with("event=llm_call_failed").len(), 6);
    let llm = daemon.status()["llm"].clone();
    assert_eq!(llm["requests"], 6, "{llm}");
    assert_eq!(llm["request_errors"], 6, "{llm}");
    assert_eq!(llm["messages_failed"], 1, "{llm}");
    assert_eq!(llm["titles_failed"], 1, "{llm}");
    assert_eq!(llm["backlog"]["messages_failed"], 1, "{llm}");
}

#[test]
fn in_llm_mode_a_valid_answer_replaces_the_rules_facts() {
    let fake = FakeLlm::start(|r| {
        if r.is_title() {
            return answer(r#"{"title": "Where Dee lives"}"#, 1, 1);
        }
        match r.user_text().as_str() {
            "I live in Paris." => answer(
                r#"{"facts": [{"predicate": "location", "object": "Paris", "kind": "assert"},
                              {"predicate": "likes", "object": "croissants", "kind": "assert"}]}"#,
                1,
                1,
            ),
            _ => answer(
                r#"{"facts": [{"predicate": "location", "object": "Berlin", "kind": "change"}]}"#,
                1,
                1,
            ),
        }
    });
    let env = TestEnv::new();
    let url = fake.base_url();
    let daemon = env.spawn_daemon(&llm_env(&url, "llm"));
    let chat = new_uuid();
    let first = post(&daemon, &chat, "dee", "I live in Paris.");
    assert_eq!(wait_enriched(&env, &first), ("done".into(), 2, None));
    let second = post(&daemon, &chat, "dee", "I moved to Berlin.");
    assert_eq!(wait_enriched(&env, &second), ("done".into(), 1, None));

    assert_eq!(
        facts_of(&env, "dee"),
        vec![
            (
                "likes".into(),
                "croissants".into(),
                "llm".into(),
                "llm:test-model".into(),
                1
            ),
            (
                "location".into(),
                "Berlin".into(),
                "llm".into(),
                "llm:test-model".into(),
                1
            ),
            (
                "location".into(),
                "Paris".into(),
                "llm".into(),
                "llm:test-model".into(),
                1
            ),
        ]
    );
    // The chain was worked out again over the LLM's facts: Berlin ends Paris.
    let row = env
        .pg()
        .query_one(
            "SELECT p.supersede_kind, p.valid_to = b.created_at, b.superseded_by IS NULL
               FROM facts p JOIN facts b ON b.id = p.superseded_by
              WHERE p.user_id = 'dee' AND p.object = 'Paris'",
            &[],
        )
        .expect("Paris is superseded by Berlin");
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, bool>(1),
            row.get::<_, bool>(2)
        ),
        ("change".into(), true, true)
    );
    let (_, body) = daemon.get("/v1/users/dee/facts");
    let mut current: Vec<(String, String)> = body["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["predicate"].as_str().unwrap().to_owned(),
                f["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    current.sort();
    assert_eq!(
        current,
        vec![
            ("likes".into(), "croissants".into()),
            ("location".into(), "Berlin".into())
        ]
    );
}

fn run_with(env_vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let env = TestEnv::new();
    let mut cmd = Command::new(binary());
    cmd.arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_URL", &env.redis_url)
        .env("MEMLINK_HTTP_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env_vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run memlink");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn llm_without_an_endpoint_is_a_configuration_error() {
    let (code, stderr) = run_with(&[("MEMLINK_EXTRACTOR", "llm")]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("MEMLINK_LLM_BASE_URL is not set"),
        "{stderr}"
    );

    let (code, stderr) = run_with(&[
        ("MEMLINK_EXTRACTOR", "both"),
        ("MEMLINK_LLM_BASE_URL", "http://127.0.0.1:9/v1"),
    ]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("MEMLINK_LLM_MODEL is not set"), "{stderr}");

    let (code, stderr) = run_with(&[("MEMLINK_EXTRACTOR", "magic")]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("MEMLINK_EXTRACTOR is invalid"), "{stderr}");
}

#[test]
fn requests_in_flight_never_exceed_the_concurrency_limit() {
    let fake = FakeLlm::start(|r| {
        let content = if r.is_title() {
            r#"{"title": "Pets"}"#
        } else {
            r#"{"facts": []}"#
        };
        Reply::Slow(Duration::from_millis(300), content.into())
    });
    let env = TestEnv::new();
    let url = fake.base_url();
    let mut extra = llm_env(&url, "both");
    extra.push(("MEMLINK_LLM_CONCURRENCY", "1"));
    let daemon = env.spawn_daemon(&extra);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            post(
                &daemon,
                &new_uuid(),
                "eve",
                &format!("I have {} cats.", i + 2),
            )
        })
        .collect();
    for id in &ids {
        assert_eq!(wait_enriched(&env, id), ("done".into(), 0, None));
    }
    eventually("three titles", LONG, || {
        (env.count("SELECT count(*) FROM llm_titles WHERE status = 'done'") == 3).then_some(())
    });
    assert_eq!(fake.requests().len(), 6);
    assert_eq!(
        fake.in_flight.1.load(Ordering::SeqCst),
        1,
        "at most one request at a time"
    );
}

#[test]
fn a_draining_daemon_hands_its_claims_back_for_the_next_one() {
    let slow = Arc::new(AtomicBool::new(true));
    let switch = slow.clone();
    let fake = FakeLlm::start(move |r| {
        let content = if r.is_title() {
            r#"{"title": "Dogs and cats"}"#
        } else {
            r#"{"facts": [{"predicate": "pet", "object": "a dog"}, {"predicate": "pet", "object": "cat"}]}"#
        };
        if switch.load(Ordering::SeqCst) {
            Reply::Slow(Duration::from_secs(8), content.into())
        } else {
            answer(content, 1, 1)
        }
    });
    let env = TestEnv::new();
    let url = fake.base_url();
    let extra = llm_env(&url, "both");
    let mut daemon = env.spawn_daemon(&extra);
    let chat = new_uuid();
    let id = post(&daemon, &chat, "fay", "I have a dog.");
    eventually("the model is being asked", LONG, || {
        (fake.requests().len() == 2).then_some(())
    });

    daemon.signal("TERM");
    let exit = daemon.wait_exit(LONG).expect("the daemon exits");
    assert!(exit.success(), "{exit:?}");
    let row = env
        .pg()
        .query_one(
            "SELECT status, attempts, claimed_by IS NULL, claimed_until <= now() FROM llm_enrichment
              WHERE message_id = $1::text::uuid",
            &[&id],
        )
        .expect("the claim");
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i32>(1),
            row.get::<_, bool>(2),
            row.get::<_, bool>(3)
        ),
        ("pending".into(), 0, true, true),
        "handed back, uncounted"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM llm_titles WHERE status = 'pending' AND claimed_by IS NULL AND attempts = 0"),
        1
    );

    // The next daemon takes the work up at once, not after the lease.
    switch_fast(&slow);
    let _next = env.spawn_daemon(&extra);
    assert_eq!(wait_enriched(&env, &id), ("done".into(), 1, None));
    assert_eq!(wait_title_pass(&env, &chat), ("done".into(), None));
    assert_eq!(
        facts_of(&env, "fay"),
        vec![
            (
                "pet".into(),
                "cat".into(),
                "llm".into(),
                "llm:test-model".into(),
                1
            ),
            (
                "pet".into(),
                "dog".into(),
                "pet.have".into(),
                "rules".into(),
                EXTRACTOR_VERSION
            ),
        ]
    );
    assert_eq!(
        chat_title(&env, &chat),
        (Some("Dogs and cats".into()), Some("llm".into()))
    );
}

fn switch_fast(flag: &AtomicBool) {
    flag.store(false, Ordering::SeqCst);
}

/// A claim whose enricher died (its lease ran out) is taken over; one that ran out too often
/// is given up on, visibly, instead of being tried forever.
#[test]
fn expired_claims_are_taken_over_then_given_up_on() {
    let fake = FakeLlm::start(|r| {
        if r.is_title() {
            answer(r#"{"title": "Tea"}"#, 1, 1)
        } else {
            answer(
                r#"{"facts": [{"predicate": "likes", "object": "green tea"}]}"#,
                1,
                1,
            )
        }
    });
    let env = TestEnv::new();
    let url = fake.base_url();
    let daemon = env.spawn_daemon(&llm_env(&url, "both"));
    let (one, two) = (
        post(&daemon, &new_uuid(), "gus", "I like tea."),
        post(&daemon, &new_uuid(), "gus", "I like coffee."),
    );
    assert_eq!(wait_enriched(&env, &one).0, "done");
    assert_eq!(wait_enriched(&env, &two).0, "done");
    let asked = fake.count(false);
    assert_eq!(asked, 2);

    // As if a process that held these claims had died.
    let mut pg = env.pg();
    pg.execute(
        "UPDATE llm_enrichment SET status = 'pending', attempts = 1, claimed_until = now() - interval '1 second',
                claimed_by = gen_random_uuid(), done_at = NULL WHERE message_id = $1::text::uuid",
        &[&one],
    )
    .unwrap();
    pg.execute(
        "UPDATE llm_enrichment SET status = 'pending', attempts = 3, claimed_until = now() - interval '1 second',
                claimed_by = gen_random_uuid(), done_at = NULL WHERE message_id = $1::text::uuid",
        &[&two],
    )
    .unwrap();

    let (status, added, error) = wait_enriched(&env, &two);
    assert_eq!((status.as_str(), added), ("failed", 1));
    assert_eq!(
        error.as_deref(),
        Some("abandoned: claimed 3 times without an outcome")
    );
    let (status, added, _) = wait_enriched(&env, &one);
    // Taken over and asked again; the facts it already had are not added twice.
    assert_eq!((status.as_str(), added), ("done", 0));
    let attempts: i32 = pg
        .query_one(
            "SELECT attempts FROM llm_enrichment WHERE message_id = $1::text::uuid",
            &[&one],
        )
        .unwrap()
        .get(0);
    assert_eq!(attempts, 2);
    assert_eq!(fake.count(false), asked + 1);
    assert_eq!(
        // Statements, not fact rows: with the memory graph a value the LLM repeats becomes one
        // more source of an existing fact.
        env.count("SELECT count(*) FROM fact_sources WHERE user_id = 'gus' AND rule_id = 'llm'"),
        2
    );
    assert_eq!(
        daemon
            .log_lines_with(&format!(
                "event=llm_failed message_id={two} error=abandoned"
            ))
            .len(),
        1
    );
}

#[test]
fn an_https_endpoint_is_used_with_its_certificate_verified() {
    let pki = common::pki::Pki::new();
    let cert = pki.server("llm", &["127.0.0.1"]);
    let fake = FakeLlm::start_tls(
        |r| {
            if r.is_title() {
                answer(r#"{"title": "Secure chat"}"#, 3, 2)
            } else {
                answer(
                    r#"{"facts": [{"predicate": "likes", "object": "cryptography", "kind": "assert"}]}"#,
                    5,
                    4,
                )
            }
        },
        pki.rustls_server(&cert),
    );
    let url = fake.base_url();
    assert!(url.starts_with("https://"));
    let ca = pki.ca_file.display().to_string();
    let wrong_ca = pki.wrong_ca_file.display().to_string();

    // Trusting the CA that signed the server's certificate: answered over TLS.
    let env = TestEnv::new();
    let mut extra = llm_env(&url, "both");
    extra.push(("MEMLINK_LLM_CA_FILE", ca.as_str()));
    extra.push(("MEMLINK_LLM_API_KEY", "sk-tls-secret"));
    let daemon = env.spawn_daemon(&extra);
    let chat = new_uuid();
    let id = post(&daemon, &chat, "tess", "My name is Tess.");
    let (status, added, error) = wait_enriched(&env, &id);
    assert_eq!((status.as_str(), added, error), ("done", 1, None));
    assert!(facts_of(&env, "tess")
        .iter()
        .any(|(p, o, _, x, _)| p == "likes" && o == "cryptography" && x == "llm:test-model"));
    assert_eq!(wait_title_pass(&env, &chat).0, "done");
    let seen = fake.requests();
    assert!(!seen.is_empty());
    assert!(seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer sk-tls-secret")));
    drop(daemon);

    // Trusting another CA: the handshake fails, no request is made, and the error says why.
    let before = fake.requests().len();
    let env = TestEnv::new();
    let mut extra = llm_env(&url, "both");
    extra.push(("MEMLINK_LLM_CA_FILE", wrong_ca.as_str()));
    extra.push(("MEMLINK_LLM_MAX_RETRIES", "0"));
    let daemon = env.spawn_daemon(&extra);
    let id = post(&daemon, &new_uuid(), "tom", "My name is Tom.");
    let (status, _, error) = wait_enriched(&env, &id);
    assert_eq!(status, "failed");
    let error = error.unwrap_or_default();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(
        fake.requests().len(),
        before,
        "nothing was sent to an unverified server"
    );
    assert!(!daemon.log_text().contains("sk-tls-secret"));
}
