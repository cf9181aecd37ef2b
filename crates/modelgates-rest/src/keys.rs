//! API key routes in the seed SDKs' shapes: list (`GET /keys`, pages of 100), create (201 with
//! the secret, shown once), get, update (PATCH), delete, and the presented key (`GET /key`).
//! A key's `hash` is its id (`key_…`); its usage counters come from the usage recorded with
//! it. What ModelGates does not have (BYOK, limit resets, external users, budgets, data-region
//! policies) is answered as absent (`null`, `false`, `0`, `[]`) and refused when a request asks
//! for it.

use aide::OperationInput;
use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use modelgates::{
    AccountId, ApiKey, Caller, Error, KeyFilter, KeyId, KeyKind, KeyPatch, KeyUsage, ModelGates,
    NewKey, Page, Patch, WorkspaceId,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::ApiError;
use crate::extract::{Body, Id, Me, Once, Params, Query};
use crate::reply::{Created, Data, Deleted, MaybeReplayed, Reply};
use crate::workspaces::present;

/// The key a request presented, put into the request by the authentication layer beside the
/// [`Caller`].
#[derive(Debug, Clone, Copy)]
pub struct PresentedKey(pub KeyId);

impl<S: Send + Sync> FromRequestParts<S> for PresentedKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<PresentedKey>()
            .copied()
            .ok_or_else(|| {
                Error::Unauthenticated("this request presented no API key".into()).into()
            })
    }
}

impl OperationInput for PresentedKey {}

pub(crate) fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route(
            "/keys",
            get_with(list, |o| {
                o.id("listKeys").summary(
                    "List a workspace's API keys (default: the default workspace), 100 a page",
                )
            })
            .post_with(create, |o| {
                o.id("createKey")
                    .summary("Create an API key; the answer holds its secret, shown only once")
            }),
        )
        .api_route(
            "/keys/{hash}",
            get_with(get_one, |o| o.id("getKey").summary("Get an API key"))
                .patch_with(update, |o| {
                    o.id("updateKey").summary(
                        "Rename, disable or enable an API key, or change its limit or expiry",
                    )
                })
                .delete_with(delete, |o| {
                    o.id("deleteKey")
                        .summary("Delete an API key; it stops working at once")
                }),
        )
        .api_route(
            "/key",
            get_with(current, |o| {
                o.id("getCurrentKey")
                    .summary("The API key this request presented")
            }),
        )
}

/// USD, as the SDKs read credit amounts.
fn usd(c: &modelgates::Counters) -> f64 {
    c.cost().usd_f64()
}

/// An API key as the seed SDKs read it. `hash` is the key's id; `number` is its integer
/// identity (`io_logging_api_key_ids`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Key")]
struct KeyBody {
    /// The key's id (`key_…`): what `/keys/{hash}` takes.
    hash: KeyId,
    name: String,
    /// The secret's first and last characters, for recognising it.
    label: String,
    workspace_id: WorkspaceId,
    creator_user_id: Option<String>,
    disabled: bool,
    /// The spending limit in USD (`null` = none). ModelGates records it; the gateway enforces it.
    limit: Option<f64>,
    /// The limit less the key's usage, at least 0 (`null` without a limit).
    limit_remaining: Option<f64>,
    /// ModelGates' limits do not reset: always `null`.
    limit_reset: Option<String>,
    /// ModelGates keeps no BYOK usage: always `false`.
    include_byok_in_limit: bool,
    /// USD used, all time, from the usage recorded with this key.
    usage: f64,
    /// USD used in the current UTC day.
    usage_daily: f64,
    /// USD used in the current UTC week (from Monday).
    usage_weekly: f64,
    /// USD used in the current UTC month.
    usage_monthly: f64,
    /// ModelGates keeps no BYOK usage: always 0.
    byok_usage: f64,
    /// Always 0.
    byok_usage_daily: f64,
    /// Always 0.
    byok_usage_weekly: f64,
    /// Always 0.
    byok_usage_monthly: f64,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    /// When the key's latest recorded request happened.
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    /// ModelGates has no external users: always `null`.
    external_user: Option<String>,
    /// The key's number in its account (1, 2, …; never reused).
    number: u64,
    /// `inference` (the gateway) or `management` (this API).
    kind: KeyKind,
}

impl KeyBody {
    fn of(k: ApiKey, u: KeyUsage) -> Self {
        let used = usd(&u.total);
        Self {
            hash: k.id,
            name: k.name,
            label: k.label,
            workspace_id: k.workspace_id,
            creator_user_id: Some(k.creator_user_id.to_string()),
            disabled: k.disabled,
            limit: k.limit,
            limit_remaining: k.limit.map(|l| (l - used).max(0.0)),
            limit_reset: None,
            include_byok_in_limit: false,
            usage: used,
            usage_daily: usd(&u.day),
            usage_weekly: usd(&u.week),
            usage_monthly: usd(&u.month),
            byok_usage: 0.0,
            byok_usage_daily: 0.0,
            byok_usage_weekly: 0.0,
            byok_usage_monthly: 0.0,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: u.last_used_at,
            expires_at: k.expires_at,
            external_user: None,
            number: k.number,
            kind: k.kind,
        }
    }

    /// Keys with their usage, read in one transaction.
    fn all(g: &ModelGates, c: &Caller, keys: Vec<ApiKey>) -> modelgates::Result<Vec<Self>> {
        let ids: Vec<KeyId> = keys.iter().map(|k| k.id).collect();
        let usage = g.key_usage(c, &ids)?;
        Ok(keys
            .into_iter()
            .zip(usage)
            .map(|(k, u)| Self::of(k, u))
            .collect())
    }

    fn one(g: &ModelGates, c: &Caller, key: ApiKey) -> modelgates::Result<Self> {
        let u = g.key_usage(c, &[key.id])?.pop().unwrap_or_default();
        Ok(Self::of(key, u))
    }
}

/// `GET /keys`: pages of 100 from `offset`, active keys unless asked otherwise.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KeyListQuery {
    /// How many keys to skip (default 0).
    #[schemars(range(min = 0))]
    offset: Option<i64>,
    /// Also disabled keys (default false).
    include_disabled: Option<bool>,
    /// Also expired keys (default false).
    include_expired: Option<bool>,
    /// The workspace (UUID or slug; default: the account's default workspace).
    workspace_id: Option<String>,
}

/// The SDKs' key list: `{"data": […]}`, no total.
#[derive(Debug, Serialize, JsonSchema)]
struct KeyList {
    data: Vec<KeyBody>,
}

async fn list(
    State(app): State<App>,
    Me(me): Me,
    Query(q): Query<KeyListQuery>,
) -> Result<Reply<KeyList>, ApiError> {
    let page = Page::new(q.offset, Some(100))?;
    let filter = KeyFilter {
        include_disabled: q.include_disabled.unwrap_or(false),
        include_expired: q.include_expired.unwrap_or(false),
    };
    let g = &app.gates;
    let keys = g.key_list_filtered(&me, q.workspace_id.as_deref(), filter, page)?;
    Ok(Reply(KeyList {
        data: KeyBody::all(g, &me, keys.data)?,
    }))
}

/// The SDKs' `external` object (ModelGates has no external users).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct External {
    #[allow(dead_code)]
    user: String,
    #[serde(default)]
    #[allow(dead_code)]
    api_key: Option<String>,
}

/// The body of `POST /keys`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KeyCreate {
    name: String,
    /// The key's user (default: the caller); must be a member of the workspace.
    #[serde(default)]
    creator_user_id: Option<String>,
    /// When the key stops working (RFC 3339, in the future; `null` = never).
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Must be absent: ModelGates has no external users.
    #[serde(default)]
    external: Option<External>,
    /// Must be absent or false: ModelGates keeps no BYOK usage.
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
    /// Spending limit in USD (`null` = none).
    #[serde(default)]
    limit: Option<f64>,
    /// Must be absent or null: ModelGates' limits do not reset.
    #[serde(default)]
    limit_reset: Option<String>,
    /// The workspace (UUID or slug; default: the account's default workspace).
    #[serde(default)]
    workspace_id: Option<String>,
    /// `inference` (default: the gateway's keys) or `management` (this API's; org admins only).
    #[serde(default)]
    kind: Option<KeyKind>,
}

/// What ModelGates does not have, refused by name.
fn unsupported(byok: Option<bool>, reset: Option<&String>, external: bool) -> Result<(), ApiError> {
    if byok == Some(true) {
        return Err(ApiError::bad_request(
            "body.include_byok_in_limit",
            "ModelGates keeps no BYOK usage; leave it out or false",
        ));
    }
    if reset.is_some() {
        return Err(ApiError::bad_request(
            "body.limit_reset",
            "ModelGates' limits do not reset; leave it out or null",
        ));
    }
    if external {
        return Err(ApiError::bad_request(
            "body.external",
            "ModelGates has no external users; leave it out",
        ));
    }
    Ok(())
}

/// `POST /keys`' answer: the key and its secret (shown this once).
#[derive(Debug, Serialize, JsonSchema)]
struct KeyCreated {
    data: KeyBody,
    /// The secret: store it now, it is never shown again. Absent when the request was a retry
    /// with the same `Idempotency-Key` (the answer carries `Idempotent-Replayed: true`): the
    /// first answer carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

async fn create(
    State(app): State<App>,
    Me(me): Me,
    once: Once,
    Body(b): Body<KeyCreate>,
) -> Result<MaybeReplayed<Created<KeyCreated>>, ApiError> {
    let me = once.caller(me);
    let asked = me.clone();
    unsupported(
        b.include_byok_in_limit,
        b.limit_reset.as_ref(),
        b.external.is_some(),
    )?;
    let created = app
        .write(me, move |g, c| {
            let workspace = match b.workspace_id {
                Some(w) => w,
                None => g.account_get(c)?.default_workspace_id.to_string(),
            };
            let new = NewKey {
                name: b.name,
                workspace,
                kind: b.kind,
                creator_user_id: b.creator_user_id,
                expires_at: b.expires_at,
                limit: b.limit,
            };
            let created = g.key_create(c, new)?;
            Ok(KeyCreated {
                data: KeyBody::one(g, c, created.data)?,
                key: created.key,
            })
        })
        .await?;
    Ok(MaybeReplayed::of(&asked, Reply(created)))
}

async fn get_one(
    State(app): State<App>,
    Me(me): Me,
    Params(hash): Id,
) -> Result<Reply<Data<KeyBody>>, ApiError> {
    let key = app.gates.key_get(&me, &hash)?;
    Ok(Data::reply(KeyBody::one(&app.gates, &me, key)?))
}

/// The body of `PATCH /keys/{hash}`: absent keeps, `null` clears (limit, expiry).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KeyUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    limit: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<DateTime<Utc>>>,
    /// Must be absent or false.
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
    /// Must be absent or null.
    #[serde(default, deserialize_with = "present")]
    limit_reset: Option<Option<String>>,
    /// Must be absent or the key's own workspace: keys do not move between workspaces.
    #[serde(default)]
    workspace_id: Option<String>,
}

async fn update(
    State(app): State<App>,
    Me(me): Me,
    Params(hash): Id,
    Body(b): Body<KeyUpdate>,
) -> Result<Reply<Data<KeyBody>>, ApiError> {
    unsupported(
        b.include_byok_in_limit,
        b.limit_reset.as_ref().and_then(Option::as_ref),
        false,
    )?;
    let no_fields = b.name.is_none()
        && b.disabled.is_none()
        && b.limit.is_none()
        && b.expires_at.is_none()
        && b.include_byok_in_limit.is_none()
        && b.limit_reset.is_none()
        && b.workspace_id.is_none();
    if no_fields {
        return Err(ApiError::bad_request("body", "No update fields provided"));
    }
    let patch = KeyPatch {
        name: b.name,
        disabled: b.disabled,
        expires_at: Patch::from(b.expires_at),
        limit: Patch::from(b.limit),
    };
    let workspace = b.workspace_id;
    let key = app
        .write(me, move |g, c| {
            if let Some(w) = workspace {
                let current = g.key_get(c, &hash)?;
                let target = g.workspace_get(c, &w)?;
                if target.id != current.workspace_id {
                    return Err(Error::invalid(
                        "workspace_id",
                        format!(
                            "key {} belongs to workspace {}; keys do not move between \
                             workspaces (create a new key there)",
                            current.id, current.workspace_id
                        ),
                    ));
                }
            }
            let key = g.key_update(c, &hash, patch)?;
            KeyBody::one(g, c, key)
        })
        .await?;
    Ok(Data::reply(key))
}

async fn delete(
    State(app): State<App>,
    Me(me): Me,
    Params(hash): Id,
) -> Result<Reply<Deleted>, ApiError> {
    app.write(me, move |g, c| g.key_delete(c, &hash)).await?;
    Ok(Deleted::reply())
}

/// The SDKs' legacy rate limit (ModelGates does not rate-limit keys: `requests` is -1).
#[derive(Debug, Serialize, JsonSchema)]
struct RateLimit {
    requests: i64,
    interval: String,
    note: String,
}

/// The SDKs' daily free-model allowance (ModelGates has no free models: all 0).
#[derive(Debug, Serialize, JsonSchema)]
struct FreeModelDailyRequests {
    limit: u64,
    remaining: u64,
    used: u64,
}

/// The presented key, as `GET /key` answers it: the key's fields plus what the SDKs ask of
/// the current key.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "CurrentKey")]
struct CurrentKey {
    #[serde(flatten)]
    key: KeyBody,
    /// Whether this is a management key (always, since only those reach this API).
    is_management_key: bool,
    /// The same as `is_management_key` (the SDKs' older name).
    is_provisioning_key: bool,
    /// ModelGates has no free tier: always `false`.
    is_free_tier: bool,
    /// The key's account.
    organization_id: AccountId,
    /// ModelGates has no data-region policy: always empty.
    allowed_data_regions: Vec<String>,
    /// ModelGates enforces no budgets: always empty.
    budgets: Vec<serde_json::Value>,
    /// Always `null`.
    effective_budget: Option<serde_json::Value>,
    free_model_daily_requests: FreeModelDailyRequests,
    rate_limit: RateLimit,
}

async fn current(
    State(app): State<App>,
    Me(me): Me,
    PresentedKey(id): PresentedKey,
) -> Result<Reply<Data<CurrentKey>>, ApiError> {
    let g = &app.gates;
    let key = g.key_get(&me, &id.to_string())?;
    let management = key.kind == KeyKind::Management;
    let body = KeyBody::one(g, &me, key)?;
    Ok(Data::reply(CurrentKey {
        key: body,
        is_management_key: management,
        is_provisioning_key: management,
        is_free_tier: false,
        organization_id: me.account,
        allowed_data_regions: Vec::new(),
        budgets: Vec::new(),
        effective_budget: None,
        free_model_daily_requests: FreeModelDailyRequests {
            limit: 0,
            remaining: 0,
            used: 0,
        },
        rate_limit: RateLimit {
            requests: -1,
            interval: "none".into(),
            note: "ModelGates does not rate-limit API keys".into(),
        },
    }))
}
