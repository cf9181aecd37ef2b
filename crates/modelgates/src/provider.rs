//! Provider endpoints (seed 004): where a gateway sends requests — type, URL, auth type and a
//! write-only API key. Add, update (rename keeps every mux rule pointing at it), configure auth,
//! list, get, delete (refused while mux rules use it, unless `cascade`).

use crate::access;
use crate::clock::millis;
use crate::error::{Error, Reason, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::ids::{AccountId, ProviderId, WorkspaceId};
use crate::patch::Patch;
pub use crate::record::provider::*;
use crate::routing::{self};
use crate::schema::{PROVIDER_NAMES, PROVIDER_USES, PROVIDERS};
use crate::storage::ReadTxn;
use crate::validate::{self, Page, Paged, excerpt};

const NAME_MIN: usize = 3;
const NAME_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 500;
const ENDPOINT_MAX: usize = 2048;
const API_KEY_MAX: usize = 4096;

fn check_name(field: &str, name: &str) -> Result<()> {
    validate::name(field, name, NAME_MAX)?;
    let len = name.chars().count();
    if len < NAME_MIN {
        return Err(Error::invalid(
            field,
            format!("{name:?} is {len} characters; a provider name has at least {NAME_MIN}"),
        ));
    }
    if name.trim() != name {
        return Err(Error::invalid(
            field,
            format!("{name:?} starts or ends with whitespace"),
        ));
    }
    Ok(())
}

/// An absolute http(s) URL without credentials; returned without a trailing `/`.
pub(crate) fn check_endpoint(field: &str, endpoint: &str) -> Result<String> {
    if endpoint.len() > ENDPOINT_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} is {} bytes; at most {ENDPOINT_MAX} are allowed",
                excerpt(endpoint),
                endpoint.len()
            ),
        ));
    }
    let url = url::Url::parse(endpoint).map_err(|e| {
        Error::invalid(
            field,
            format!(
                "{:?} is not an absolute URL ({e}); e.g. https://api.example.com/v1",
                excerpt(endpoint)
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} uses scheme {:?}; only http and https are allowed",
                excerpt(endpoint),
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(
            field,
            format!("{:?} has no host", excerpt(endpoint)),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Credentials in a URL would be returned by every read; they belong in the write-only
        // API key. The value is not echoed: it holds a secret.
        return Err(Error::invalid(
            field,
            "the URL contains credentials (user:password@); set the key with provider_set_auth",
        ));
    }
    // A secret in the query (`?key=…`) would be shown to every member who can read providers,
    // like credentials before the host. Parameters such as `api-version` stay allowed. The
    // value is not echoed; the parameter's name is.
    for (name, _) in url.query_pairs() {
        let folded: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let secret_like = [
            "key",
            "token",
            "secret",
            "password",
            "passwd",
            "pwd",
            "auth",
            "sig",
            "credential",
        ]
        .iter()
        .any(|w| folded.contains(w));
        if secret_like {
            return Err(Error::invalid(
                field,
                format!(
                    "the URL's query parameter {:?} looks like a credential; set the key with \
                     provider_set_auth (auth_type api_key) instead",
                    excerpt(&name)
                ),
            ));
        }
    }
    if url.fragment().is_some() {
        return Err(Error::invalid(
            field,
            format!("{:?} has a #fragment", excerpt(endpoint)),
        ));
    }
    Ok(endpoint.trim_end_matches('/').to_owned())
}

/// The endpoint to store: the given one (checked) or the type's default.
fn endpoint_for(ty: ProviderType, given: Option<&str>) -> Result<String> {
    match given {
        Some(e) => check_endpoint("endpoint", e),
        None => ty.default_endpoint().map(str::to_owned).ok_or_else(|| {
            Error::invalid(
                "endpoint",
                format!(
                    "required for provider_type {}: it has no default address (e.g. \
                     http://localhost:8000/v1)",
                    ty.as_str()
                ),
            )
        }),
    }
}

/// Auth type + key must agree: `api_key` needs a key, the others refuse one. Messages never
/// contain the key.
fn check_auth(auth: AuthType, key: Option<&Secret>) -> Result<()> {
    match (auth, key) {
        (AuthType::ApiKey, None) => Err(Error::invalid(
            "api_key",
            "required when auth_type is api_key",
        )),
        (AuthType::ApiKey, Some(k)) => {
            let k = k.expose();
            if k.trim().is_empty() {
                return Err(Error::invalid("api_key", "must not be empty or blank"));
            }
            if k.len() > API_KEY_MAX {
                return Err(Error::invalid(
                    "api_key",
                    format!("is {} bytes; at most {API_KEY_MAX} are allowed", k.len()),
                ));
            }
            if k.chars().any(char::is_control) {
                return Err(Error::invalid("api_key", "contains a control character"));
            }
            Ok(())
        }
        (other, Some(_)) => Err(Error::invalid(
            "api_key",
            format!(
                "auth_type {} takes no API key; use auth_type api_key to store one",
                other.as_str()
            ),
        )),
        (_, None) => Ok(()),
    }
}

fn name_key(account: AccountId, name: &str) -> (AccountId, String) {
    (account, name.to_lowercase())
}

/// The provider `name_or_id` (a `prov_…` id or a name, case-insensitive) of the account.
pub(crate) fn resolve(
    txn: &dyn ReadTxn,
    account: AccountId,
    field: &str,
    name_or_id: &str,
) -> Result<ProviderRecord> {
    let id = if name_or_id.starts_with(ProviderId::PREFIX) {
        Some(ProviderId::parse_field(name_or_id, field)?)
    } else {
        PROVIDER_NAMES.get(txn, &name_key(account, name_or_id))?
    };
    match id {
        Some(id) => PROVIDERS.get(txn, &(account, id))?,
        None => None,
    }
    .ok_or_else(|| Error::not_found("provider", excerpt(name_or_id)))
}

/// The workspaces whose mux rules use provider `id`.
pub(crate) fn users(
    txn: &dyn ReadTxn,
    account: AccountId,
    id: ProviderId,
) -> Result<Vec<WorkspaceId>> {
    Ok(PROVIDER_USES
        .values_with_prefix(txn, &(account, id))?
        .into_iter()
        .map(|u| u.workspace_id)
        .collect())
}

fn check_name_free(
    txn: &dyn ReadTxn,
    account: AccountId,
    name: &str,
    except: Option<ProviderId>,
) -> Result<()> {
    if let Some(owner) = PROVIDER_NAMES.get(txn, &name_key(account, name))?
        && Some(owner) != except
    {
        return Err(Error::conflict(
            "name",
            format!("provider name {name:?} is already used by provider {owner}"),
        ));
    }
    Ok(())
}

fn save(tx: &mut Tx<'_>, account: AccountId, record: &ProviderRecord) -> Result<()> {
    PROVIDERS.put(tx, &(account, record.provider.id), record)
}

fn check_revision(p: &Provider, expected: Option<u64>) -> Result<()> {
    match expected {
        Some(e) if e != p.revision => Err(Error::conflict(
            "expected_revision",
            format!(
                "provider {:?} is at revision {}, not {e}: it changed since you read it; get it \
                 again and reapply your change",
                p.name, p.revision
            ),
        )),
        _ => Ok(()),
    }
}

/// A retry of the create with the same idempotency key gets the first result.
impl crate::idempotency::store::Replayable for Provider {}

impl ModelGates {
    /// Adds a provider endpoint to the caller's account (org admins only).
    pub fn provider_add(&self, caller: &Caller, new: NewProvider) -> Result<Provider> {
        self.write_once(op("provider_add", caller), &new, |tx| {
            add_in(tx, caller, &new)
        })
    }

    /// Updates a provider (by name or id). Renaming keeps every mux rule pointing at it.
    pub fn provider_update(
        &self,
        caller: &Caller,
        name_or_id: &str,
        patch: ProviderPatch,
    ) -> Result<Provider> {
        self.write(op("provider_update", caller), |tx| {
            update_in(tx, caller, name_or_id, &patch)
        })
    }

    /// Sets how the gateway authenticates to a provider: `api_key` needs `api_key`, the other
    /// types refuse one (and drop a stored key).
    pub fn provider_set_auth(
        &self,
        caller: &Caller,
        name_or_id: &str,
        auth_type: AuthType,
        api_key: Option<Secret>,
        expected_revision: Option<u64>,
    ) -> Result<Provider> {
        self.write(op("provider_set_auth", caller), |tx| {
            set_auth_in(
                tx,
                caller,
                name_or_id,
                auth_type,
                api_key.as_ref(),
                expected_revision,
            )
        })
    }

    /// Lists the account's providers, oldest first.
    pub fn provider_list(&self, caller: &Caller, page: Page) -> Result<Paged<Provider>> {
        self.read(|txn| {
            access::member(txn, caller)?;
            let all = PROVIDERS.values_with_prefix(txn, &(caller.account,))?;
            Ok(page.apply(all.into_iter().map(|r| r.provider).collect()))
        })
    }

    /// One provider by name (case-insensitive) or id.
    pub fn provider_get(&self, caller: &Caller, name_or_id: &str) -> Result<Provider> {
        self.read(|txn| {
            access::member(txn, caller)?;
            Ok(resolve(txn, caller.account, "provider", name_or_id)?.provider)
        })
    }

    /// The stored API key of a provider, for an embedding gateway that calls the provider
    /// (org admins only). No MCP tool exposes it.
    pub fn provider_api_key(&self, caller: &Caller, name_or_id: &str) -> Result<Option<Secret>> {
        self.read(|txn| {
            access::admin(txn, caller)?;
            Ok(resolve(txn, caller.account, "provider", name_or_id)?
                .api_key
                .map(Secret))
        })
    }

    /// Deletes a provider. While mux rules use it, this fails naming the workspaces and rules,
    /// unless `cascade` is set: then those rules are removed in the same transaction and
    /// reported.
    pub fn provider_delete(
        &self,
        caller: &Caller,
        name_or_id: &str,
        cascade: bool,
    ) -> Result<ProviderDeleted> {
        self.write(op("provider_delete", caller), |tx| {
            delete_in(tx, caller, name_or_id, cascade)
        })
    }
}

/// [`ModelGates::provider_add`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn add_in(tx: &mut Tx<'_>, caller: &Caller, new: &NewProvider) -> Result<Provider> {
    check_name("name", &new.name)?;
    if let Some(d) = &new.description {
        validate::text("description", d, DESCRIPTION_MAX)?;
    }
    let endpoint = endpoint_for(new.provider_type, new.endpoint.as_deref())?;
    let auth_type = new.auth_type.unwrap_or(if new.api_key.is_some() {
        AuthType::ApiKey
    } else {
        AuthType::None
    });
    check_auth(auth_type, new.api_key.as_ref())?;
    access::admin(&*tx, caller)?;
    let account = caller.account;
    check_name_free(&*tx, account, &new.name, None)?;
    let record = ProviderRecord {
        provider: Provider {
            id: ProviderId::generate(millis(tx.now)),
            name: new.name.clone(),
            description: new.description.clone().unwrap_or_default(),
            provider_type: new.provider_type,
            endpoint: endpoint.clone(),
            auth_type,
            has_api_key: new.api_key.is_some(),
            created_at: tx.now,
            updated_at: None,
            revision: 1,
        },
        api_key: new.api_key.as_ref().map(|k| k.expose().to_owned()),
    };
    PROVIDER_NAMES.put(&mut *tx, &name_key(account, &new.name), &record.provider.id)?;
    save(tx, account, &record)?;
    Ok(record.provider)
}

/// [`ModelGates::provider_update`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn update_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    name_or_id: &str,
    patch: &ProviderPatch,
) -> Result<Provider> {
    if let Some(n) = &patch.name {
        check_name("name", n)?;
    }
    if let Some(d) = patch.description.as_set() {
        validate::text("description", d, DESCRIPTION_MAX)?;
    }
    if let Some(e) = patch.endpoint.as_set() {
        check_endpoint("endpoint", e)?;
    }
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let mut record = resolve(&*tx, account, "provider", name_or_id)?;
    check_revision(&record.provider, patch.expected_revision)?;
    let p = &mut record.provider;
    if let Some(name) = &patch.name
        && name != &p.name
    {
        check_name_free(&*tx, account, name, Some(p.id))?;
        PROVIDER_NAMES.delete(&mut *tx, &name_key(account, &p.name))?;
        PROVIDER_NAMES.put(&mut *tx, &name_key(account, name), &p.id)?;
        p.name = name.clone();
    }
    match &patch.description {
        Patch::Keep => {}
        Patch::Clear => p.description.clear(),
        Patch::Set(d) => p.description = d.clone(),
    }
    if let Some(ty) = patch.provider_type {
        p.provider_type = ty;
    }
    match &patch.endpoint {
        Patch::Keep => {}
        Patch::Clear => p.endpoint = endpoint_for(p.provider_type, None)?,
        Patch::Set(e) => p.endpoint = check_endpoint("endpoint", e)?,
    }
    p.updated_at = Some(tx.now);
    p.revision += 1;
    save(tx, account, &record)?;
    Ok(record.provider)
}

/// [`ModelGates::provider_set_auth`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn set_auth_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    name_or_id: &str,
    auth_type: AuthType,
    api_key: Option<&Secret>,
    expected_revision: Option<u64>,
) -> Result<Provider> {
    check_auth(auth_type, api_key)?;
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let mut record = resolve(&*tx, account, "provider", name_or_id)?;
    check_revision(&record.provider, expected_revision)?;
    record.api_key = api_key.map(|k| k.expose().to_owned());
    let p = &mut record.provider;
    p.auth_type = auth_type;
    p.has_api_key = api_key.is_some();
    p.updated_at = Some(tx.now);
    p.revision += 1;
    save(tx, account, &record)?;
    Ok(record.provider)
}

/// [`ModelGates::provider_delete`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn delete_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    name_or_id: &str,
    cascade: bool,
) -> Result<ProviderDeleted> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let record = resolve(&*tx, account, "provider", name_or_id)?;
    let p = &record.provider;
    let uses = routing::rules_using(&*tx, account, p.id)?;
    if !uses.is_empty() && !cascade {
        let listed: Vec<String> = uses
            .iter()
            .map(|u| format!("{} rule #{}", u.workspace_slug, u.rule_index))
            .collect();
        return Err(Error::precondition(
            Reason::ProviderInUse,
            format!(
                "provider {:?} is used by {} mux rule(s): {}; change those rules with \
                 workspace_mux_set, or delete with cascade: true to remove them too",
                p.name,
                uses.len(),
                validate::list_excerpt(&listed)
            ),
        ));
    }
    let removed_rules = routing::remove_provider_rules(tx, account, p.id)?;
    PROVIDER_NAMES.delete(&mut *tx, &name_key(account, &p.name))?;
    PROVIDERS.delete(&mut *tx, &(account, p.id))?;
    Ok(ProviderDeleted {
        data: record.provider.clone(),
        removed_rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_absolute_http_urls_without_credentials() {
        assert_eq!(
            check_endpoint("endpoint", "https://api.example.com/v1/").unwrap(),
            "https://api.example.com/v1"
        );
        assert!(check_endpoint("endpoint", "http://localhost:8000").is_ok());
        for bad in [
            "api.example.com",
            "/v1",
            "ftp://example.com",
            "https://",
            "file:///etc/passwd",
            "https://example.com/#x",
        ] {
            let e = check_endpoint("endpoint", bad).unwrap_err();
            assert_eq!(e.field(), Some("endpoint"), "{bad}");
        }
        let e = check_endpoint("endpoint", "https://user:sk-secret@example.com").unwrap_err();
        assert!(!e.to_string().contains("sk-secret"), "{e}");
        for leaky in [
            "https://example.com/v1?key=sk-secret",
            "https://example.com/v1?api_key=sk-secret",
            "https://example.com/v1?X-Access-Token=sk-secret",
            "https://example.com/v1?api-version=1&sig=sk-secret",
        ] {
            let e = check_endpoint("endpoint", leaky).unwrap_err();
            assert_eq!(e.field(), Some("endpoint"), "{leaky}");
            assert!(!e.to_string().contains("sk-secret"), "{e}");
        }
        assert!(
            check_endpoint(
                "endpoint",
                "https://x.openai.azure.com/v1?api-version=2024-02-01"
            )
            .is_ok()
        );
    }

    #[test]
    fn auth_type_and_key_must_agree_without_echoing_the_key() {
        let key = Secret::new("sk-live-123");
        assert!(check_auth(AuthType::ApiKey, Some(&key)).is_ok());
        assert!(check_auth(AuthType::None, None).is_ok());
        assert!(check_auth(AuthType::Passthrough, None).is_ok());
        let e = check_auth(AuthType::ApiKey, None).unwrap_err();
        assert_eq!(e.field(), Some("api_key"));
        for auth in [AuthType::None, AuthType::Passthrough] {
            let e = check_auth(auth, Some(&key)).unwrap_err();
            assert!(!e.to_string().contains("sk-live"), "{e}");
        }
        assert_eq!(format!("{key:?} {key}"), "<redacted> <redacted>");
    }

    #[test]
    fn types_have_documented_defaults_or_require_an_endpoint() {
        assert!(endpoint_for(ProviderType::Vllm, None).is_err());
        assert!(endpoint_for(ProviderType::Llamacpp, None).is_err());
        for ty in [
            ProviderType::Openai,
            ProviderType::Anthropic,
            ProviderType::Openrouter,
            ProviderType::Ollama,
            ProviderType::LmStudio,
        ] {
            let e = endpoint_for(ty, None).unwrap();
            assert!(check_endpoint("endpoint", &e).is_ok(), "{e}");
        }
    }
}
