//! The client for an OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp's
//! server, hosted APIs over https): `POST {base}/chat/completions`, one JSON answer, token
//! usage counted. Over https the server's certificate is always verified.
//!
//! Every request is bounded: a timeout from connecting to the last byte, at most
//! `concurrency` requests in flight (a semaphore), at most `max_retries` retries with
//! exponential backoff and jitter, and only for failures that another try can fix (timeouts,
//! connection errors, 408, 429, 5xx). It never logs the API key or the messages sent, and it
//! lives on the actix runtime of the actor that owns it (awc's client is not `Send`).

use crate::logging::{quoted, Quoted};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use memlink_actors::backoff::ExponentialBackoff;
use memlink_actors::enrich::ModelError;
use memlink_actors::ports::Entropy;
use memlink_actors::ports::LanguageModel;
use memlink_actors::status::StatusBoard;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::config::LlmConfig;

/// Status-board counters (totals since the process started), shown under `llm` on
/// `/admin/status`.
pub use memlink_actors::enrich::{counters, Purpose};

/// The largest answer read, in bytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// `choices[0].message.content`.
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("timed out after {0} ms")]
    Timeout(u128),
    #[error("could not reach the server: {0}")]
    Connect(String),
    /// The connection was closed before any answer came: mostly a kept-alive connection the
    /// server closed (its idle timeout, or a close after each answer without saying so) just as
    /// the request went out on it.
    #[error("the server closed the connection before answering: {0}")]
    Closed(String),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("unreadable answer: {0}")]
    Envelope(String),
}

impl LlmError {
    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Timeout(_) => "timeout",
            LlmError::Connect(_) => "connect",
            LlmError::Closed(_) => "connection_closed",
            LlmError::Status { .. } => "http_status",
            LlmError::Envelope(_) => "bad_envelope",
        }
    }

    /// Whether another try may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            LlmError::Timeout(_) | LlmError::Connect(_) | LlmError::Closed(_) => true,
            LlmError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            LlmError::Envelope(_) => false,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Reads `choices[0].message.content` and `usage` from a chat-completions answer.
pub fn parse_envelope(body: &[u8]) -> Result<Completion, LlmError> {
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| LlmError::Envelope(e.to_string()))?;
    let content = env
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Envelope("no choices".to_owned()))?
        .message
        .content
        .unwrap_or_default();
    let usage = env.usage.unwrap_or_default();
    Ok(Completion {
        content,
        prompt_tokens: usage.prompt_tokens.unwrap_or(0),
        completion_tokens: usage.completion_tokens.unwrap_or(0),
    })
}

/// One client per enricher; cheap to clone (shared connection pool and semaphore).
#[derive(Clone)]
pub struct LlmClient {
    http: awc::Client,
    endpoint: String,
    model: String,
    api_key: Option<String>,
    timeout: Duration,
    max_retries: u32,
    backoff: ExponentialBackoff,
    permits: Rc<Semaphore>,
    status: StatusBoard,
    entropy: Arc<dyn Entropy>,
}

impl LlmClient {
    pub fn new(
        config: &LlmConfig,
        backoff: ExponentialBackoff,
        status: StatusBoard,
        entropy: Arc<dyn Entropy>,
    ) -> LlmClient {
        let mut connector = awc::Connector::new().timeout(config.timeout);
        if let Some(trust) = &config.tls {
            // https: the chain and the host name are verified against the configured roots.
            connector = connector.rustls_0_23(trust.config.clone());
        }
        let http = awc::Client::builder()
            .connector(connector)
            .timeout(config.timeout)
            .disable_redirects()
            .finish();
        LlmClient {
            http,
            endpoint: format!("{}/chat/completions", config.base_url),
            model: config.model.clone(),
            api_key: config.api_key.clone(),
            timeout: config.timeout,
            max_retries: config.max_retries,
            backoff,
            permits: Rc::new(Semaphore::new(config.concurrency)),
            status,
            entropy,
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Asks the model, retrying what can be retried. `subject` only labels the log lines
    /// (`message_id=...` or `chat_id=...`).
    pub async fn complete(
        &self,
        purpose: Purpose,
        subject: &str,
        system: &str,
        user: &str,
    ) -> Result<Completion, LlmError> {
        let body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        });
        let mut attempt: u32 = 0;
        // One retry at once, outside the count, for a connection closed before it answered:
        // what clients do for a request that went out on a pooled connection the server had
        // just closed (it never reached the model, and a completion is safe to ask again).
        let mut stale_retry = true;
        loop {
            let started = Instant::now();
            let result = {
                // A closed semaphore cannot happen (it is never closed); go on unbounded if so.
                let _permit = self.permits.acquire().await.ok();
                self.send_once(&body).await
            };
            let latency_ms = started.elapsed().as_millis();
            self.status.bump(counters::REQUESTS, 1);
            match result {
                Ok(c) => {
                    self.status.bump(counters::PROMPT_TOKENS, c.prompt_tokens);
                    self.status
                        .bump(counters::COMPLETION_TOKENS, c.completion_tokens);
                    log::info!(target: "memlink::llm", "event=llm_call purpose={} {subject} model={} attempt={} prompt_tokens={} completion_tokens={} latency_ms={latency_ms}",
                        purpose.as_str(), Quoted(&self.model), attempt + 1, c.prompt_tokens, c.completion_tokens);
                    return Ok(c);
                }
                Err(LlmError::Closed(detail)) if stale_retry => {
                    stale_retry = false;
                    log::info!(target: "memlink::llm", "event=llm_call_retried purpose={} {subject} model={} attempt={} error=connection_closed detail={} latency_ms={latency_ms}",
                        purpose.as_str(), Quoted(&self.model), attempt + 1, quoted(&detail));
                }
                Err(e) => {
                    self.status.bump(counters::REQUEST_ERRORS, 1);
                    let retry = e.retryable() && attempt < self.max_retries;
                    log::warn!(target: "memlink::llm", "event=llm_call_failed purpose={} {subject} model={} attempt={} error={} detail={} retry={retry} latency_ms={latency_ms}",
                        purpose.as_str(), Quoted(&self.model), attempt + 1, e.code(), quoted(&e));
                    if !retry {
                        return Err(e);
                    }
                    let delay = self.backoff.delay(attempt, self.entropy.unit());
                    actix_web::rt::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn send_once(&self, body: &serde_json::Value) -> Result<Completion, LlmError> {
        let exchange = async {
            let mut req = self
                .http
                .post(&self.endpoint)
                .timeout(self.timeout)
                .insert_header(("Accept", "application/json"));
            if let Some(key) = &self.api_key {
                req = req.insert_header(("Authorization", format!("Bearer {key}")));
            }
            let mut resp = req.send_json(body).await.map_err(|e| self.send_error(e))?;
            let status = resp.status();
            let bytes = resp
                .body()
                .limit(MAX_ANSWER_BYTES)
                .await
                .map_err(|e| LlmError::Envelope(e.to_string()))?;
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes);
                let snippet = crate::llm::facts::cut_bytes(text.trim(), 200).to_owned();
                return Err(LlmError::Status {
                    status: status.as_u16(),
                    body: snippet,
                });
            }
            parse_envelope(&bytes)
        };
        match actix_web::rt::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(LlmError::Timeout(self.timeout.as_millis())),
        }
    }

    fn send_error(&self, e: awc::error::SendRequestError) -> LlmError {
        use awc::error::{ConnectError, SendRequestError};
        use std::io::ErrorKind;
        let closed = match &e {
            // The response head never came: the connection ended under the request.
            SendRequestError::Connect(ConnectError::Disconnected) => true,
            SendRequestError::Send(io)
            | SendRequestError::Response(actix_web::error::ParseError::Io(io)) => matches!(
                io.kind(),
                ErrorKind::BrokenPipe
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::UnexpectedEof
            ),
            _ => false,
        };
        match e {
            SendRequestError::Timeout => LlmError::Timeout(self.timeout.as_millis()),
            e if closed => LlmError::Closed(e.to_string()),
            other => LlmError::Connect(other.to_string()),
        }
    }
}

#[async_trait(?Send)]
impl LanguageModel for LlmClient {
    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(
        &self,
        purpose: Purpose,
        subject: &str,
        system: &str,
        user: &str,
    ) -> Result<String, ModelError> {
        LlmClient::complete(self, purpose, subject, system, user)
            .await
            .map(|c| c.content)
            .map_err(|e| ModelError {
                code: e.code(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_envelope() {
        let c = parse_envelope(
            br#"{"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"facts\": []}"}}],
                 "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}"#,
        )
        .unwrap();
        assert_eq!(c.content, "{\"facts\": []}");
        assert_eq!((c.prompt_tokens, c.completion_tokens), (12, 3));
        let no_usage = parse_envelope(br#"{"choices": [{"message": {"content": "hi"}}]}"#).unwrap();
        assert_eq!((no_usage.prompt_tokens, no_usage.completion_tokens), (0, 0));
        assert_eq!(
            parse_envelope(br#"{"choices": []}"#).unwrap_err().code(),
            "bad_envelope"
        );
        assert_eq!(
            parse_envelope(b"<html>").unwrap_err().code(),
            "bad_envelope"
        );
    }

    #[test]
    fn retries_only_what_can_change() {
        assert!(LlmError::Timeout(1).retryable());
        assert!(LlmError::Connect("refused".into()).retryable());
        assert!(LlmError::Closed("reset".into()).retryable());
        for (s, r) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (400, false),
            (401, false),
            (404, false),
        ] {
            assert_eq!(
                LlmError::Status {
                    status: s,
                    body: String::new()
                }
                .retryable(),
                r,
                "{s}"
            );
        }
        assert!(!LlmError::Envelope("x".into()).retryable());
    }
}
