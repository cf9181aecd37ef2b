//! The OpenAI-compatible endpoints: `POST /v1/chat/completions` and `POST /v1/completions`
//! (FIM). Each request is authenticated with a ModelGates inference key, routed by its
//! workspace's mux rules for the files it mentions, given the workspace's custom instructions
//! as the system prompt, forwarded to the provider with the provider's credentials, and
//! answered as the provider answers (streams pass through event by event); its usage is queued
//! for recording when the answer ends, also when the client goes away mid-stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use modelgates::{
    AuthType, KeyKind, ModelGates, NewConversation, NewUsage, ProviderType, RequestKind, Route,
    Upstream, VerifiedKey,
};
use serde_json::{Map, Value, json};

use crate::error::GatewayError;
use crate::files;
use crate::recorder::Recorder;
use crate::sse;

/// Request bodies up to this size are accepted (long chat contexts).
const BODY_MAX: usize = 32 * 1024 * 1024;
/// Prompts and answers are stored up to this size (the library's limit), cut at a character.
const TEXT_MAX: usize = 1024 * 1024;
/// The header naming files explicitly (comma-separated), besides those the body mentions.
const FILES_HEADER: &str = "x-modelgates-files";
/// The header carrying the ModelGates key when `Authorization` carries the client's provider
/// key (for `passthrough` providers).
const KEY_HEADER: &str = "x-modelgates-key";
/// The header carrying the client's provider key for `passthrough` providers.
const PROVIDER_KEY_HEADER: &str = "x-provider-api-key";
/// The header naming the chat a request belongs to (stored with its conversation).
const CHAT_HEADER: &str = "x-modelgates-chat-id";

/// How the gateway behaves.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Store each request's prompt and answer (secrets redacted by the library) with its usage.
    pub log_conversations: bool,
    /// Time to connect to a provider.
    pub connect_timeout: Duration,
    /// Time a provider may take to send its response head.
    pub response_timeout: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            log_conversations: true,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(300),
        }
    }
}

/// The gateway's shared state; cheap to clone.
#[derive(Clone, Debug)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    gates: ModelGates,
    http: reqwest::Client,
    recorder: Recorder,
    options: GatewayOptions,
}

impl Gateway {
    /// A gateway over `gates`, recording usage through `recorder`.
    pub fn new(
        gates: ModelGates,
        recorder: Recorder,
        options: GatewayOptions,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // Providers are called by their configured URL; a redirect could carry the
            // provider key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                gates,
                http,
                recorder,
                options,
            }),
        })
    }

    /// The routes `/v1/chat/completions` and `/v1/completions`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/completions", post(completions))
            .layer(DefaultBodyLimit::max(BODY_MAX))
            .with_state(self)
    }
}

async fn chat(State(gw): State<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    gw.forward(RequestKind::Chat, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn completions(State(gw): State<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    gw.forward(RequestKind::Fim, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The credentials a request presented.
struct Presented<'a> {
    /// The ModelGates key.
    key: &'a str,
    /// The client's own provider key, for `passthrough` providers.
    provider_key: Option<&'a str>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl<'a> Presented<'a> {
    fn of(headers: &'a HeaderMap) -> Result<Self, GatewayError> {
        if let Some(key) = header_str(headers, KEY_HEADER) {
            return Ok(Self {
                key,
                provider_key: header_str(headers, PROVIDER_KEY_HEADER).or_else(|| bearer(headers)),
            });
        }
        let key = bearer(headers).ok_or_else(|| {
            modelgates::Error::Unauthenticated(
                "send Authorization: Bearer <ModelGates inference key> (or x-modelgates-key)"
                    .into(),
            )
        })?;
        Ok(Self {
            key,
            provider_key: header_str(headers, PROVIDER_KEY_HEADER),
        })
    }
}

/// What is recorded when a request's answer ends.
struct Pending {
    recorder: Recorder,
    key: VerifiedKey,
    request_id: String,
    provider: String,
    model: String,
    kind: RequestKind,
    chat_id: Option<String>,
    /// The prompt to store (`None` when conversations are not logged).
    prompt: Option<String>,
    /// The forwarded body's size, for the estimate when the provider reported no usage.
    body_bytes: usize,
}

impl Pending {
    /// Queues the usage record. `usage` is the provider's (input, output) tokens; without it
    /// (a stream cut short) the tokens are estimated: input as the forwarded body's bytes / 4,
    /// output as the number of content deltas received (providers stream about a token each).
    fn record(
        self,
        usage: Option<(u64, u64)>,
        deltas: u64,
        answer: Option<String>,
        answer_id: Option<String>,
    ) {
        let (input_tokens, output_tokens) =
            usage.unwrap_or(((self.body_bytes as u64).div_ceil(4), deltas));
        if usage.is_none() {
            tracing::info!(
                request_id = %self.request_id,
                input_tokens,
                output_tokens,
                "the answer ended without the provider's usage; recording estimated tokens"
            );
        }
        let conversation = self.prompt.map(|prompt| NewConversation {
            chat_id: self.chat_id,
            prompt,
            prompt_message_id: None,
            answer: answer.map(|a| truncate(a, TEXT_MAX)),
            answer_message_id: answer_id.filter(|id| !id.is_empty() && id.len() <= 128),
        });
        let usage = NewUsage {
            request_id: self.request_id,
            workspace: Some(self.key.workspace_id.to_string()),
            api_key_id: Some(self.key.key_id.to_string()),
            provider: self.provider,
            model: self.model,
            request_type: Some(self.kind),
            input_tokens,
            output_tokens,
            timestamp: None,
            conversation,
            alerts: Vec::new(),
        };
        self.recorder.record(&self.key, usage);
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The text of a content value (a string, or the text parts of an array, one per line).
fn content_text(content: Option<&Value>) -> String {
    files::texts(content).join("\n")
}

/// The prompt to store: the last user message of a chat, the prompt of a FIM request.
fn prompt_of(kind: RequestKind, body: &Map<String, Value>) -> String {
    match kind {
        RequestKind::Chat => body
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .map(|m| content_text(m.get("content")))
            .unwrap_or_default(),
        _ => content_text(body.get("prompt")),
    }
}

/// Puts `instructions` first in the system prompt: prepended to a leading system (or
/// developer) message with text content, else as a new first system message.
fn inject_instructions(messages: &mut Vec<Value>, instructions: &str) {
    if let Some(first) = messages.first_mut() {
        let role = first["role"].as_str().unwrap_or("");
        if (role == "system" || role == "developer")
            && let Some(Value::String(text)) = first.get_mut("content")
        {
            *text = format!("{instructions}\n\n{text}");
            return;
        }
    }
    messages.insert(0, json!({"role": "system", "content": instructions}));
}

/// The provider URL of `route` for a request of `kind`.
fn upstream_url(route: &Route, kind: RequestKind) -> Result<String, GatewayError> {
    let p = &route.provider;
    let base = p.endpoint.trim_end_matches('/');
    let base = match p.provider_type {
        ProviderType::Anthropic => {
            return Err(GatewayError::UnsupportedProvider {
                provider: p.name.clone(),
                provider_type: p.provider_type.as_str(),
            });
        }
        // Ollama's endpoint is its root; its OpenAI-compatible API is under /v1.
        ProviderType::Ollama if !base.ends_with("/v1") => format!("{base}/v1"),
        _ => base.to_owned(),
    };
    Ok(match kind {
        RequestKind::Chat => format!("{base}/chat/completions"),
        _ => format!("{base}/completions"),
    })
}

/// `text` with every occurrence of `secret` replaced.
fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 4 => text.replace(s, "[REDACTED]"),
        _ => text.to_owned(),
    }
}

impl Gateway {
    async fn forward(
        &self,
        kind: RequestKind,
        headers: &HeaderMap,
        raw: &[u8],
    ) -> Result<Response, GatewayError> {
        let inner = &self.inner;
        let presented = Presented::of(headers)?;
        let key = inner.gates.verify_key(presented.key)?;
        if key.kind != KeyKind::Inference {
            return Err(modelgates::Error::PermissionDenied(format!(
                "API key {} is a management key; requests through the gateway need an \
                 inference key",
                key.key_id
            ))
            .into());
        }
        let mut body: Value = serde_json::from_slice(raw)
            .map_err(|e| GatewayError::invalid("body", format!("not a JSON document: {e}")))?;
        let obj = body
            .as_object_mut()
            .ok_or_else(|| GatewayError::invalid("body", "must be a JSON object"))?;
        let extra = header_str(headers, FILES_HEADER)
            .map(files::of_header)
            .unwrap_or_default();
        let files = match kind {
            RequestKind::Chat => {
                let messages = obj
                    .get("messages")
                    .and_then(Value::as_array)
                    .filter(|m| !m.is_empty())
                    .ok_or_else(|| {
                        GatewayError::invalid(
                            "messages",
                            "an array of at least one message is required",
                        )
                    })?;
                files::of_chat(messages, &extra)
            }
            _ => {
                if !matches!(obj.get("prompt"), Some(Value::String(_) | Value::Array(_))) {
                    return Err(GatewayError::invalid(
                        "prompt",
                        "a string or an array of strings is required",
                    ));
                }
                files::of_fim(obj, &extra)
            }
        };
        let route = inner
            .gates
            .snapshot()
            .route(key.account, key.workspace_id, kind, &files)?;
        let upstream = self.upstream(&key, &route).await?;
        let url = upstream_url(&route, kind)?;

        // The request as the provider gets it.
        obj.insert("model".into(), Value::String(route.model.to_string()));
        let streaming = obj.get("stream") == Some(&Value::Bool(true));
        let client_wants_usage = obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            == Some(&Value::Bool(true));
        if streaming {
            // Ask for the usage chunk; it is passed on only if the client asked too.
            let options = obj.entry("stream_options").or_insert_with(|| json!({}));
            if let Some(options) = options.as_object_mut() {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        }
        if let (RequestKind::Chat, Some(instructions)) = (kind, &upstream.custom_instructions)
            && let Some(Value::Array(messages)) = obj.get_mut("messages")
        {
            inject_instructions(messages, instructions);
        }
        let prompt = inner
            .options
            .log_conversations
            .then(|| truncate(prompt_of(kind, obj), TEXT_MAX));
        let forwarded = serde_json::to_vec(&body)
            .map_err(|e| GatewayError::invalid("body", format!("cannot be re-encoded: {e}")))?;
        let body_bytes = forwarded.len();

        let secret = match route.provider.auth_type {
            AuthType::ApiKey => upstream.api_key.as_ref().map(|s| s.expose().to_owned()),
            AuthType::Passthrough => Some(
                presented
                    .provider_key
                    .ok_or_else(|| {
                        GatewayError::invalid(
                            PROVIDER_KEY_HEADER,
                            format!(
                                "provider {} uses the client's own credentials \
                                 (passthrough): send them in {PROVIDER_KEY_HEADER}",
                                route.provider.name
                            ),
                        )
                    })?
                    .to_owned(),
            ),
            _ => None,
        };
        let request_id = format!("gw_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut request = inner
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .timeout(inner.options.response_timeout)
            .body(forwarded);
        if let Some(secret) = &secret {
            request = request.bearer_auth(secret);
        }
        tracing::debug!(%request_id, provider = %route.provider.name, model = %route.model, "forwarding");
        // The response timeout covers the head only: a stream may run longer.
        // A transport failure, told without the URL or the provider's key.
        let unreachable = |e: reqwest::Error| GatewayError::Unreachable {
            provider: route.provider.name.clone(),
            message: scrub(&without_url(&e), secret.as_deref()),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let said = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            let said: String = said.chars().take(2000).collect();
            return Err(GatewayError::Provider {
                provider: route.provider.name.clone(),
                status: status.as_u16(),
                message: scrub(&said, secret.as_deref()),
            });
        }

        let pending = Pending {
            recorder: inner.recorder.clone(),
            key,
            request_id: request_id.clone(),
            provider: route.provider.name.clone(),
            model: route.model.to_string(),
            kind,
            chat_id: header_str(headers, CHAT_HEADER).map(str::to_owned),
            prompt,
            body_bytes,
        };
        let is_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut out = if is_stream {
            let state = StreamState {
                pending: Some(pending),
                kind,
                splitter: sse::Splitter::default(),
                queue: VecDeque::new(),
                answer: String::new(),
                answer_id: None,
                deltas: 0,
                usage: None,
                client_wants_usage,
            };
            let body = Body::from_stream(relay(response.bytes_stream(), state));
            let mut out = Response::new(body);
            out.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            out.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            out
        } else {
            let bytes = response.bytes().await.map_err(unreachable)?;
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let usage = usage_of(&answer);
            let text = answer["choices"]
                .as_array()
                .and_then(|c| c.first())
                .map(|c| match kind {
                    RequestKind::Chat => content_text(c["message"].get("content")),
                    _ => c["text"].as_str().unwrap_or_default().to_owned(),
                });
            let id = answer["id"].as_str().map(str::to_owned);
            // Without the provider's usage, about four bytes of answer make a token.
            let estimate = text.as_ref().map_or(0, |t| (t.len() as u64).div_ceil(4));
            pending.record(usage, estimate, text, id);
            let mut out = Response::new(Body::from(bytes));
            out.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            out
        };
        let h = out.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        set("x-request-id", &request_id);
        set("x-modelgates-provider", &route.provider.name);
        set("x-modelgates-model", &route.model);
        set(
            "x-modelgates-rule",
            &route
                .rule_index
                .map_or_else(|| "default".to_owned(), |i| i.to_string()),
        );
        Ok(out)
    }

    /// The provider's key and the instructions: read from the store, on the blocking pool
    /// when the store is a database server (a network round trip).
    async fn upstream(&self, key: &VerifiedKey, route: &Route) -> Result<Upstream, GatewayError> {
        let gates = &self.inner.gates;
        if !gates.is_shared() {
            return Ok(gates.upstream(key, route)?);
        }
        let (gates, key, route) = (gates.clone(), key.clone(), route.clone());
        tokio::task::spawn_blocking(move || gates.upstream(&key, &route))
            .await
            .map_err(|e| modelgates::Error::internal(format!("upstream read failed: {e}")))?
            .map_err(Into::into)
    }
}

/// A reqwest error's text without its URL (which could carry credentials in a query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "the provider");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The (input, output) tokens of an OpenAI `usage` object.
fn usage_of(v: &Value) -> Option<(u64, u64)> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some((
        u["prompt_tokens"].as_u64().unwrap_or(0),
        u["completion_tokens"].as_u64().unwrap_or(0),
    ))
}

/// A stream being relayed; recording happens when it is dropped (the stream ended, failed,
/// or the client went away).
struct StreamState {
    pending: Option<Pending>,
    kind: RequestKind,
    splitter: sse::Splitter,
    queue: VecDeque<Bytes>,
    answer: String,
    answer_id: Option<String>,
    deltas: u64,
    usage: Option<(u64, u64)>,
    client_wants_usage: bool,
}

impl StreamState {
    /// Notes what `event` says and returns it if the client should get it (a usage-only
    /// chunk the client did not ask for is kept back).
    fn on_event(&mut self, event: Bytes) -> Option<Bytes> {
        let Some(data) = sse::data(&event) else {
            return Some(event);
        };
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            return Some(event); // `[DONE]` and anything else unparsed pass as they are
        };
        if self.answer_id.is_none() {
            self.answer_id = chunk["id"].as_str().map(str::to_owned);
        }
        let usage = usage_of(&chunk);
        if usage.is_some() {
            self.usage = usage;
        }
        let choices = chunk["choices"].as_array();
        for choice in choices.into_iter().flatten() {
            let text = match self.kind {
                RequestKind::Chat => choice["delta"]["content"].as_str(),
                _ => choice["text"].as_str(),
            };
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                self.deltas += 1;
                if self.answer.len() < TEXT_MAX {
                    self.answer.push_str(text);
                }
            }
        }
        if usage.is_some() && !self.client_wants_usage && choices.is_none_or(Vec::is_empty) {
            return None;
        }
        Some(event)
    }
}

impl Drop for StreamState {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            let answer = std::mem::take(&mut self.answer);
            let answer = pending.prompt.is_some().then_some(answer);
            pending.record(self.usage, self.deltas, answer, self.answer_id.take());
        }
    }
}

/// Relays `upstream` event by event through `state`.
fn relay(
    upstream: impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    state: StreamState,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    let upstream = Box::pin(upstream);
    futures_util::stream::unfold(
        (upstream, state, false),
        |(mut upstream, mut state, mut ended)| async move {
            loop {
                if let Some(event) = state.queue.pop_front() {
                    return Some((Ok(event), (upstream, state, ended)));
                }
                if ended {
                    return None;
                }
                match upstream.next().await {
                    Some(Ok(chunk)) => {
                        for event in state.splitter.push(&chunk) {
                            if let Some(event) = state.on_event(event) {
                                state.queue.push_back(event);
                            }
                        }
                    }
                    Some(Err(e)) => {
                        // The provider broke off: tell the client in the stream (OpenAI
                        // clients raise on an `error` event), then end.
                        tracing::warn!(error = %without_url(&e), "the provider's stream broke off");
                        let event = json!({"error": {
                            "message": "the provider's stream broke off",
                            "type": "upstream_error",
                            "param": null,
                            "code": "provider_stream_failed",
                        }});
                        state
                            .queue
                            .push_back(Bytes::from(format!("data: {event}\n\n")));
                        ended = true;
                    }
                    None => {
                        if let Some(event) = state
                            .splitter
                            .finish()
                            .and_then(|rest| state.on_event(rest))
                        {
                            state.queue.push_back(event);
                        }
                        ended = true;
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_lead_the_system_prompt() {
        let mut m = vec![
            json!({"role": "system", "content": "Be brief."}),
            json!({"role": "user", "content": "hi"}),
        ];
        inject_instructions(&mut m, "Use Rust.");
        assert_eq!(m[0]["content"], "Use Rust.\n\nBe brief.");
        assert_eq!(m.len(), 2);
        let mut m = vec![json!({"role": "user", "content": "hi"})];
        inject_instructions(&mut m, "Use Rust.");
        assert_eq!(m[0], json!({"role": "system", "content": "Use Rust."}));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn secrets_are_scrubbed_and_text_cut_at_a_character() {
        assert_eq!(
            scrub("bad key sk-abc123", Some("sk-abc123")),
            "bad key [REDACTED]"
        );
        assert_eq!(truncate("aé".into(), 2), "a");
    }
}
