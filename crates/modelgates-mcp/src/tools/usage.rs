//! Usage tools: recording request usage (one or a batch), a workspace's token usage, messages and
//! alerts. Parameter structs, their conversions, the tool router and the argument decoders of the
//! toolset live here.

use chrono::{DateTime, Utc};
use modelgates::*;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;
use crate::args::Parameters;
use crate::error::ToolError;
use crate::server::McpServer;

/// One request's usage (usage_record, and each record of usage_record_batch).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRecordParams {
    /// Your id of the request (1-128 chars); recording the same id again changes nothing.
    pub request_id: String,
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// The API key (key_…) of that workspace the request came with.
    pub api_key_id: Option<String>,
    /// The provider endpoint (name or prov_ id) or a catalog provider, e.g. "openai".
    pub provider: String,
    /// The model as sent to the provider, e.g. "gpt-5".
    pub model: String,
    /// chat (default) or fim.
    pub request_type: Option<RequestKind>,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// When the request happened (RFC 3339; default now; at most a day ahead).
    pub timestamp: Option<DateTime<Utc>>,
    /// The conversation, if you log it; secrets in it are detected and stored redacted.
    pub conversation: Option<ConversationParams>,
    /// Alerts you raised on the request (at most 100).
    #[serde(default)]
    pub alerts: Vec<AlertParams>,
}

/// A request's conversation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationParams {
    /// The chat it belongs to.
    pub chat_id: Option<String>,
    /// The prompt (≤ 1 MiB).
    pub prompt: String,
    /// The prompt's message id.
    pub prompt_message_id: Option<String>,
    /// The answer (≤ 1 MiB).
    pub answer: Option<String>,
    /// The answer's message id.
    pub answer_message_id: Option<String>,
}

/// An alert on a request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// What triggered it: "secrets", "pii", "malicious_packages" or another kind (1-64 chars).
    pub trigger_type: String,
    /// critical or info.
    pub trigger_category: modelgates::AlertCategory,
    /// What matched.
    pub trigger_string: Option<String>,
    /// The code involved.
    pub code_snippet: Option<CodeSnippetParams>,
}

/// Code an alert points at.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSnippetParams {
    /// The code.
    pub code: String,
    /// Its language, e.g. "python".
    pub language: Option<String>,
    /// Its file path.
    pub filepath: Option<String>,
}

/// Parameters of usage_record_batch.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatchParams {
    /// 1-1,000 records.
    pub records: Vec<UsageRecordParams>,
}

/// Parameters of workspace_usage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUsageParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Start of the range, inclusive (RFC 3339); omit for the beginning.
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339); omit for now.
    pub to: Option<DateTime<Utc>>,
}

/// Parameters of workspace_usage_series.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageSeriesParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Start of the range (RFC 3339); moved back to the start of its bucket.
    pub from: DateTime<Utc>,
    /// End of the range (RFC 3339), after from; moved forward to the end of its bucket.
    pub to: DateTime<Utc>,
    /// The bucket size: day, week (Monday to Sunday) or month.
    pub interval: UsageInterval,
    /// Minutes east of UTC whose midnights start the buckets, -720 to 840 (default 0 = UTC).
    #[serde(default)]
    #[schemars(range(min = -720, max = 840))]
    pub utc_offset_minutes: i32,
}

/// Parameters of workspace_messages_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesListParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1))]
    pub page: Option<u64>,
    /// Messages per page, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub page_size: Option<u64>,
    /// Only messages of these chat ids (at most 100).
    pub filter_by_ids: Option<Vec<String>>,
    /// Only messages with an alert of one of these trigger types, e.g. ["secrets", "pii"].
    pub filter_by_alert_trigger_types: Option<Vec<String>>,
}

/// Parameters of workspace_alerts_list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsListParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1))]
    pub page: Option<u64>,
    /// Alerts per page, 1-100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    pub page_size: Option<u64>,
}

/// Parameters of workspace_message_get.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageGetParams {
    /// The workspace ID (UUID) or slug; omit for the active workspace.
    pub workspace: Option<String>,
    /// A chat id (every turn of the chat), or a usage record id (usage_…) for one request.
    pub id: String,
}

/// Result of usage_record_batch.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordedBatch {
    /// One entry per input record, in order.
    pub data: Vec<Recorded>,
    /// Records stored by this call.
    pub recorded: u64,
    /// Records whose request id was already stored (nothing changed for them).
    pub duplicates: u64,
}

impl From<UsageRecordParams> for NewUsage {
    fn from(p: UsageRecordParams) -> Self {
        Self {
            request_id: p.request_id,
            workspace: p.workspace,
            api_key_id: p.api_key_id,
            provider: p.provider,
            model: p.model,
            request_type: p.request_type,
            input_tokens: p.input_tokens,
            output_tokens: p.output_tokens,
            timestamp: p.timestamp,
            conversation: p.conversation.map(|c| modelgates::NewConversation {
                chat_id: c.chat_id,
                prompt: c.prompt,
                prompt_message_id: c.prompt_message_id,
                answer: c.answer,
                answer_message_id: c.answer_message_id,
            }),
            alerts: p
                .alerts
                .into_iter()
                .map(|a| modelgates::Alert {
                    trigger_type: a.trigger_type,
                    trigger_category: a.trigger_category,
                    trigger_string: a.trigger_string,
                    code_snippet: a.code_snippet.map(|c| modelgates::CodeSnippet {
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

#[tool_router(router = usage_router, vis = "pub(crate)")]
impl McpServer {
    #[tool(
        name = "usage_record",
        title = "Record a request's usage",
        description = "Record what one gateway request consumed: request_id (your id; recording \
            it again changes nothing and returns duplicate: true), workspace (omit for the active \
            one), provider (a provider endpoint's name or id, or a catalog provider such as \
            openai), model, request_type (chat | fim), input/output tokens, timestamp (default \
            now), optionally the conversation (chat_id, prompt, answer, message ids) and alerts \
            (trigger_type, trigger_category critical | info, trigger_string, code_snippet). Cost \
            is computed now from the workspace's model prices, exactly, and never rewritten; an \
            unknown model is stored unpriced (cost 0, model_ref absent). Secrets in the \
            conversation are detected and stored redacted, with a critical secrets alert when you \
            reported none. api_key_id must be a key of the workspace; org members must give it and \
            may record only for their own keys. Returns {data: record, duplicate}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn usage_record(
        &self,
        Parameters(p): Parameters<UsageRecordParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Recorded>, ToolError> {
        let new: NewUsage = p?.into();
        Ok(Json(
            self.run(&ctx, move |g, c| g.usage_record(c, new)).await?,
        ))
    }

    #[tool(
        name = "usage_record_batch",
        title = "Record usage in a batch",
        description = "Record 1-1,000 requests' usage in one transaction (same fields as \
            usage_record per record). All or nothing: an invalid record, named as \
            records[i].field, records none. Repeated request ids are reported as duplicates. \
            Returns {data: [{data: record, duplicate}], recorded, duplicates}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn usage_record_batch(
        &self,
        Parameters(p): Parameters<UsageBatchParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RecordedBatch>, ToolError> {
        let batch: Vec<NewUsage> = p?.records.into_iter().map(Into::into).collect();
        let data = self
            .run(&ctx, move |g, c| g.usage_record_batch(c, &batch))
            .await?;
        let duplicates = data.iter().filter(|r| r.duplicate).count() as u64;
        Ok(Json(RecordedBatch {
            recorded: data.len() as u64 - duplicates,
            duplicates,
            data,
        }))
    }

    #[tool(
        name = "workspace_usage",
        title = "Get a workspace's token usage",
        description = "Token usage of a workspace (omit workspace for the active one) over an \
            optional time range [from, to) (RFC 3339): tokens_by_model keyed \"provider/model\" \
            (the same model from two providers stays two entries) and token_usage in total, each \
            with requests, input/output tokens and input/output cost in USD (a number, plus the \
            exact decimal in *_cost_usd). Served from rollups kept at record time, so totals \
            survive retention; expired_before says where retention removed raw records, and a \
            range end before it counts from the start of its minute. Returns {data: usage}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_usage(
        &self,
        Parameters(p): Parameters<WorkspaceUsageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<TokenUsage>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| {
            g.workspace_usage(c, p.workspace.as_deref(), p.from, p.to)
        })?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_usage_series",
        title = "Get a workspace's usage over time",
        description = "Token usage of a workspace (omit workspace for the active one) per day, \
            week (Monday to Sunday) or month (interval) over [from, to) (RFC 3339, from before \
            to): consecutive buckets whose boundaries are midnights at utc_offset_minutes \
            (-720 to 840, default 0 = UTC), the first starting at or before from and the last \
            ending at or after to, at most 400. Each bucket has from, to, tokens_by_model (keyed \
            \"provider/model\") and token_usage, as workspace_usage gives them; empty buckets \
            are included. The series' own tokens_by_model and token_usage are the sum of its \
            buckets. All buckets are read in one transaction. Returns {data: series}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_usage_series(
        &self,
        Parameters(p): Parameters<UsageSeriesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<UsageSeries>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| {
            g.workspace_usage_series(
                c,
                p.workspace.as_deref(),
                p.from,
                p.to,
                p.interval,
                p.utc_offset_minutes,
            )
        })?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_messages_list",
        title = "List a workspace's messages",
        description = "The recorded conversations of a workspace (omit workspace for the active \
            one), newest first, paged (page ≥ 1, page_size 1-100, default 50), optionally only \
            those of some chat ids (filter_by_ids) and/or with an alert of some trigger types \
            (filter_by_alert_trigger_types). Each has chat_id, prompt, alerts_summary \
            {malicious_packages, pii, secrets, total_alerts} — total_alerts counts critical alerts \
            only; a message with only informational alerts is still listed — its token usage, \
            provider, type and timestamp. Pages never overlap or skip. Returns {data, limit, \
            offset, total}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_messages_list(
        &self,
        Parameters(p): Parameters<MessagesListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<MessagesPage>, ToolError> {
        let p = p?;
        let filter = MessageFilter {
            chat_ids: p.filter_by_ids.unwrap_or_default(),
            trigger_types: p.filter_by_alert_trigger_types.unwrap_or_default(),
        };
        Ok(Json(self.read(&ctx, move |g, c| {
            g.workspace_messages_list(c, p.workspace.as_deref(), &filter, p.page, p.page_size)
        })?))
    }

    #[tool(
        name = "workspace_message_get",
        title = "Get a conversation",
        description = "Every recorded turn of a chat (id = the chat id), or one request (id = its \
            usage_… id), oldest first: question/answer pairs (secrets redacted), provider, type, \
            conversation_timestamp, token_usage_agg and every alert. Fails with not_found when \
            nothing was recorded under that id. Returns {data: conversation}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_message_get(
        &self,
        Parameters(p): Parameters<MessageGetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Data<Conversation>>, ToolError> {
        let p = p?;
        let data = self.read(&ctx, move |g, c| {
            g.workspace_message_get(c, p.workspace.as_deref(), &p.id)
        })?;
        Ok(Json(Data { data }))
    }

    #[tool(
        name = "workspace_alerts_list",
        title = "List a workspace's alerts",
        description = "A workspace's critical alerts (omit workspace for the active one), newest \
            first, paged (page ≥ 1, page_size 1-100, default 50): trigger type and category, \
            trigger string and code snippet (secrets redacted), the request and chat they belong \
            to. Near-duplicates — the same trigger type and string less than 5 s before a listed \
            one — are folded into it and counted in collapsed. Returns {data, limit, offset, \
            has_more}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn workspace_alerts_list(
        &self,
        Parameters(p): Parameters<AlertsListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AlertsPage>, ToolError> {
        let p = p?;
        Ok(Json(self.read(&ctx, move |g, c| {
            g.workspace_alerts_list(c, p.workspace.as_deref(), p.page, p.page_size)
        })?))
    }
}

/// The argument decoder of each tool of this toolset (for fuzzing and tests).
pub(crate) fn decoder(tool: &str) -> Option<Decoder> {
    Some(match tool {
        "usage_record" => decode::<UsageRecordParams>,
        "usage_record_batch" => decode::<UsageBatchParams>,
        "workspace_usage" => decode::<WorkspaceUsageParams>,
        "workspace_usage_series" => decode::<UsageSeriesParams>,
        "workspace_messages_list" => decode::<MessagesListParams>,
        "workspace_message_get" => decode::<MessageGetParams>,
        "workspace_alerts_list" => decode::<AlertsListParams>,
        _ => return None,
    })
}
