//! Seed 004's usage routes (CodeGate's paths): a workspace's token usage (and, ModelGates'
//! own, the same per day, week or month: `GET /workspaces/{id}/token-usage/series`), its messages (paged
//! by `page` / `page_size`, filtered by chat ids and alert trigger types) and one conversation,
//! its alerts (a bare array, newest first); and usage recording for gateways
//! (`POST /workspaces/{id}/usage`: one record or a batch of up to 1,000, idempotent by
//! `request_id`; 201 with the records, `duplicate: true` for a repeated request id).

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::extract::State;
use chrono::{DateTime, Utc};
use modelgates::{
    Alert, AlertCategory, AlertEntry, CodeSnippet, Conversation, MessageFilter, MessagesPage,
    NewConversation, NewUsage, Recorded, RequestKind, TokenUsage, UsageInterval, UsageSeries,
};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Params, Query, decode_value};
use crate::reply::{Created, Data, Reply};

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/workspaces/{id}/token-usage",
            get_with(token_usage, |o| {
                o.id("getTokenUsage")
                    .summary("A workspace's token usage and cost over a time range")
            }),
        )
        .api_route(
            "/workspaces/{id}/token-usage/series",
            get_with(token_usage_series, |o| {
                o.id("getTokenUsageSeries").summary(
                    "A workspace's token usage and cost per day, week or month, with their sum",
                )
            }),
        )
        .api_route(
            "/workspaces/{id}/messages",
            get_with(messages, |o| {
                o.id("listMessages")
                    .summary("A workspace's conversations, newest first, with their alerts")
            }),
        )
        .api_route(
            "/workspaces/{id}/messages/{message}",
            get_with(message, |o| o.id("getMessage").summary("One conversation")),
        )
        .api_route(
            "/workspaces/{id}/alerts",
            get_with(alerts, |o| {
                o.id("listAlerts")
                    .summary("A workspace's alerts, newest first (secrets redacted)")
            }),
        )
        .api_route(
            "/workspaces/{id}/usage",
            post_with(record, |o| {
                o.id("recordUsage").summary(
                    "Record usage: one record or a batch of up to 1,000, idempotent by \
                     request_id",
                )
            }),
        )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    /// Start of the range, inclusive (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339).
    to: Option<DateTime<Utc>>,
}

async fn token_usage(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<RangeQuery>,
) -> Result<Reply<TokenUsage>, ApiError> {
    let usage = app.gates.workspace_usage(&me, Some(&ws), q.from, q.to)?;
    Ok(Reply(usage))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    /// Start of the range (RFC 3339); moved back to the start of its bucket.
    from: DateTime<Utc>,
    /// End of the range (RFC 3339), after `from`; moved forward to the end of its bucket.
    to: DateTime<Utc>,
    /// The bucket size: `day`, `week` (Monday to Sunday) or `month`.
    interval: UsageInterval,
    /// Minutes east of UTC whose midnights start the buckets, -720 to 840 (default 0 = UTC).
    #[serde(default)]
    #[schemars(range(min = -720, max = 840))]
    utc_offset_minutes: i32,
}

/// Consecutive buckets (at most 400, empty ones included) covering `[from, to)`, each with its
/// usage per `provider/model` and in total, and the sum of them all: one request draws a chart.
async fn token_usage_series(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<SeriesQuery>,
) -> Result<Reply<UsageSeries>, ApiError> {
    let series = app.gates.workspace_usage_series(
        &me,
        Some(&ws),
        q.from,
        q.to,
        q.interval,
        q.utc_offset_minutes,
    )?;
    Ok(Reply(series))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MessagesQuery {
    /// The page, from 1 (default 1).
    #[schemars(range(min = 1))]
    page: Option<u64>,
    /// Items per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    page_size: Option<u64>,
    /// Comma-separated chat ids.
    filter_by_ids: Option<String>,
    /// Comma-separated alert trigger types.
    filter_by_alert_trigger_types: Option<String>,
}

fn list(v: Option<String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

async fn messages(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<MessagesQuery>,
) -> Result<Reply<MessagesPage>, ApiError> {
    let filter = MessageFilter {
        chat_ids: list(q.filter_by_ids),
        trigger_types: list(q.filter_by_alert_trigger_types),
    };
    let page = app
        .gates
        .workspace_messages_list(&me, Some(&ws), &filter, q.page, q.page_size)?;
    Ok(Reply(page))
}

async fn message(
    State(app): State<App>,
    Me(me): Me,
    Params((ws, id)): Params<(String, String)>,
) -> Result<Reply<Conversation>, ApiError> {
    let c = app.gates.workspace_message_get(&me, Some(&ws), &id)?;
    Ok(Reply(c))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    /// The page, from 1 (default 1).
    #[schemars(range(min = 1))]
    page: Option<u64>,
    /// Items per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    page_size: Option<u64>,
}

async fn alerts(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Query(q): Query<AlertsQuery>,
) -> Result<Reply<Vec<AlertEntry>>, ApiError> {
    let page = app
        .gates
        .workspace_alerts_list(&me, Some(&ws), q.page, q.page_size)?;
    Ok(Reply(page.data))
}

/// One request's usage, as a gateway reports it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UsageBody {
    /// The gateway's id of the request: recording it again changes nothing.
    request_id: String,
    /// The key that made the request (`key_…`); required for org members.
    #[serde(default)]
    api_key_id: Option<String>,
    provider: String,
    model: String,
    #[serde(default)]
    request_type: Option<RequestKind>,
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    conversation: Option<ConversationBody>,
    #[serde(default)]
    alerts: Vec<AlertBody>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConversationBody {
    #[serde(default)]
    chat_id: Option<String>,
    prompt: String,
    #[serde(default)]
    prompt_message_id: Option<String>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    answer_message_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AlertBody {
    trigger_type: String,
    trigger_category: AlertCategory,
    #[serde(default)]
    trigger_string: Option<String>,
    #[serde(default)]
    code_snippet: Option<SnippetBody>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SnippetBody {
    code: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    filepath: Option<String>,
}

impl UsageBody {
    fn into_new(self, workspace: &str) -> NewUsage {
        NewUsage {
            request_id: self.request_id,
            workspace: Some(workspace.to_owned()),
            api_key_id: self.api_key_id,
            provider: self.provider,
            model: self.model,
            request_type: self.request_type,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            timestamp: self.timestamp,
            conversation: self.conversation.map(|c| NewConversation {
                chat_id: c.chat_id,
                prompt: c.prompt,
                prompt_message_id: c.prompt_message_id,
                answer: c.answer,
                answer_message_id: c.answer_message_id,
            }),
            alerts: self
                .alerts
                .into_iter()
                .map(|a| Alert {
                    trigger_type: a.trigger_type,
                    trigger_category: a.trigger_category,
                    trigger_string: a.trigger_string,
                    code_snippet: a.code_snippet.map(|c| CodeSnippet {
                        code: c.code,
                        language: c.language,
                        filepath: c.filepath,
                    }),
                    detected: false,
                })
                .collect(),
        }
    }
}

/// The body of `POST /workspaces/{id}/usage`, kept as JSON until [`record`] decodes it; its
/// schema is [`UsageSchema`]'s.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct UsageRecords(serde_json::Value);

/// One usage record, or a batch of them.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum UsageSchema {
    One(Box<UsageBody>),
    Batch(Vec<UsageBody>),
}

impl JsonSchema for UsageRecords {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UsageRecords".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        UsageSchema::json_schema(generator)
    }
}

async fn record(
    State(app): State<App>,
    Me(me): Me,
    Params(ws): Id,
    Body(UsageRecords(records)): Body<UsageRecords>,
) -> Result<Created<Data<Vec<Recorded>>>, ApiError> {
    // Decoded in two steps so a bad field is named (`body[3].input_tokens`), which an untagged
    // enum cannot do.
    let batch: Vec<UsageBody> = match records {
        serde_json::Value::Array(_) => decode_value::<Vec<UsageBody>>(records)?,
        other => vec![decode_value::<UsageBody>(other)?],
    };
    let batch: Vec<NewUsage> = batch.into_iter().map(|b| b.into_new(&ws)).collect();
    let recorded = app
        .write(me, move |g, c| g.usage_record_batch(c, &batch))
        .await?;
    Ok(Data::created(recorded))
}
