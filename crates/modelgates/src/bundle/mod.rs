//! Bundles as operations: `bundle_plan` (the difference between a bundle and the database,
//! validated by running it in a transaction that is then rolled back), `bundle_apply` (the same
//! plan in one committed transaction) and `bundle_export`; parsing and checking bundle files.

mod diff;

use sha2::Digest;
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, op};
use crate::provider::Secret;
use crate::schema::{PERSONAS, PROVIDERS, WORKSPACES};
use crate::storage::ReadTxn;
use crate::{access, validate};

pub(crate) use crate::record::bundle::BundleStamp;
pub use crate::record::bundle::{
    ApplyOptions, Bundle, BundleConflict, BundleKind, BundleModel, BundlePersona, BundlePlan,
    BundleProvider, BundleRule, BundleWorkspace, PlanAction, PlannedChange, Removal, SecretRef,
};

/// Resolves the secret references of a bundle (provider API keys) to the secrets.
pub trait SecretSource {
    /// The secret `reference` names; `field` is the bundle path to name in an error.
    fn resolve(&self, field: &str, reference: &SecretRef) -> Result<Secret>;
}

/// Secrets from the environment and, if allowed, from files: what the command line uses
/// (`files: true`) and the servers use (`files: false`, environment variables named with
/// `env_prefix` only, so that a remote caller cannot make the server read its other secrets).
#[derive(Debug, Clone, Default)]
pub struct EnvSecrets {
    /// Whether `{file: PATH}` references are read.
    pub files: bool,
    /// If set, only environment variables whose names start with it are read.
    pub env_prefix: Option<String>,
}

impl EnvSecrets {
    /// What the servers (MCP, REST) read: environment variables named
    /// `MODELGATES_PROVIDER_…` only (the names `bundle_export` writes), and no files, so that
    /// a remote caller cannot make the server read its other secrets (`MODELGATES_DB` may hold
    /// a database password) into a provider whose endpoint they choose.
    pub fn for_servers() -> Self {
        Self {
            files: false,
            env_prefix: Some("MODELGATES_PROVIDER_".to_owned()),
        }
    }

    /// What the command line reads: any environment variable, and files.
    pub fn for_command_line() -> Self {
        Self {
            files: true,
            env_prefix: None,
        }
    }
}

impl SecretSource for EnvSecrets {
    fn resolve(&self, field: &str, reference: &SecretRef) -> Result<Secret> {
        let value = match reference {
            SecretRef::Env(name) => {
                let field = format!("{field}.env");
                if let Some(prefix) = &self.env_prefix
                    && !name.starts_with(prefix.as_str())
                {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "{name:?} is not read here: this server reads only environment \
                             variables whose names start with {prefix:?}"
                        ),
                    ));
                }
                // The error never carries the value (a non-Unicode one is in `VarError`).
                std::env::var(name).map_err(|e| {
                    let why = match e {
                        std::env::VarError::NotPresent => "is not set",
                        std::env::VarError::NotUnicode(_) => "is not valid Unicode",
                    };
                    Error::invalid(field, format!("environment variable {name:?} {why}"))
                })?
            }
            SecretRef::File(path) => {
                let field = format!("{field}.file");
                if !self.files {
                    return Err(Error::invalid(
                        field,
                        "file references are read only by the command line (`modelgates \
                         apply -f`); use an environment variable here",
                    ));
                }
                std::fs::read_to_string(path)
                    .map_err(|e| Error::invalid(field, format!("reading {path:?}: {e}")))?
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::invalid(field, "the referenced secret is empty"));
        }
        Ok(Secret::new(value))
    }
}

/// The environment variable `bundle_export` names for a provider's key
/// (`MODELGATES_PROVIDER_OPENAI_PROD_API_KEY`).
pub fn provider_key_env(provider: &str) -> String {
    let name: String = provider
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("MODELGATES_PROVIDER_{name}_API_KEY")
}

impl Bundle {
    /// Reads a bundle from YAML or JSON (JSON is YAML). Unknown fields are refused; the error
    /// names the line and column.
    pub fn parse(text: &str) -> Result<Bundle> {
        let bundle: Bundle = serde_norway::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            Error::invalid("bundle", format!("{at}{e}"))
        })?;
        bundle.check()?;
        Ok(bundle)
    }

    /// A bundle given as a JSON value: its YAML or JSON text (a string), or the object.
    pub fn from_value(value: serde_json::Value) -> Result<Bundle> {
        match value {
            serde_json::Value::String(text) => Self::parse(&text),
            other => {
                let bundle: Bundle = serde_path_to_error::deserialize(other).map_err(|e| {
                    let path = e.path().to_string();
                    let field = if path == "." {
                        "bundle".to_owned()
                    } else {
                        format!("bundle.{path}")
                    };
                    Error::invalid(field, e.into_inner().to_string())
                })?;
                bundle.check()?;
                Ok(bundle)
            }
        }
    }

    /// The bundle as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// The checks that need no database: the bundle key, and no resource declared twice
    /// (fields named by their path, `workspaces[1].slug`). Operations check the rest.
    pub fn check(&self) -> Result<()> {
        validate::slug("bundle", &self.bundle)?;
        fn unique(what: &str, items: impl Iterator<Item = (String, String)>) -> Result<()> {
            let mut seen: HashMap<String, String> = HashMap::new();
            for (path, name) in items {
                if let Some(first) = seen.insert(name.clone(), path.clone()) {
                    return Err(Error::invalid(
                        path,
                        format!("{what} {name:?} is declared twice (first at {first})"),
                    ));
                }
            }
            Ok(())
        }
        unique(
            "provider",
            self.providers
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("providers[{i}].name"), p.name.to_lowercase())),
        )?;
        unique(
            "persona",
            self.personas
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("personas[{i}].name"), p.name.to_lowercase())),
        )?;
        unique(
            "workspace",
            self.workspaces
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("workspaces[{i}].slug"), w.slug.clone())),
        )?;
        for (i, w) in self.workspaces.iter().enumerate() {
            unique(
                "member",
                w.members
                    .iter()
                    .enumerate()
                    .map(|(j, m)| (format!("workspaces[{i}].members[{j}]"), m.clone())),
            )?;
            unique(
                "model",
                w.models.iter().enumerate().map(|(j, m)| {
                    (
                        format!("workspaces[{i}].models[{j}].family"),
                        format!("{}/{}", m.provider, m.family),
                    )
                }),
            )?;
            for reference in w.model_status.keys() {
                if w.models
                    .iter()
                    .any(|m| format!("{}/{}", m.provider, m.family) == *reference)
                {
                    return Err(Error::invalid(
                        format!("workspaces[{i}].model_status.{reference}"),
                        "is a custom model of this bundle: give its status in `models`",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The fingerprint of a plan: SHA-256 of its key, changes and conflicts as JSON, and of the
/// SHA-256 of each provider key it resolved (a key that changed between plan and apply changes
/// the fingerprint; the plan itself shows keys only as "changed").
fn fingerprint(
    bundle: &str,
    changes: &[PlannedChange],
    conflicts: &[BundleConflict],
    keys: &[Option<Secret>],
) -> Result<String> {
    let keys: Vec<Option<String>> = keys
        .iter()
        .map(|k| {
            k.as_ref().map(|k| {
                sha2::Sha256::digest(k.expose().as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
        })
        .collect();
    let bytes = serde_json::to_vec(&(bundle, changes, conflicts, keys))
        .map_err(|e| Error::internal(format!("encoding a plan: {e}")))?;
    let digest = sha2::Sha256::digest(&bytes);
    Ok(format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

/// Resolves every provider's key reference before the transaction (no I/O inside it).
fn resolve_secrets(bundle: &Bundle, secrets: &dyn SecretSource) -> Result<Vec<Option<Secret>>> {
    bundle
        .providers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.api_key
                .as_ref()
                .map(|r| secrets.resolve(&format!("providers[{i}].api_key"), r))
                .transpose()
        })
        .collect()
}

impl ModelGates {
    /// Computes what applying `bundle` would change — creates, field-level updates
    /// (before → after, secrets only as changed), removals of what the bundle managed and no
    /// longer declares — and the declared resources it does not manage (conflicts). The plan
    /// is validated by performing it in a transaction that is rolled back: every error apply
    /// would meet, plan meets. Changes nothing. With `adopt`, conflicts become updates that
    /// stamp the resource. Org admins only.
    pub fn bundle_plan(
        &self,
        caller: &Caller,
        bundle: &Bundle,
        secrets: &dyn SecretSource,
        adopt: bool,
    ) -> Result<BundlePlan> {
        bundle.check()?;
        // Only an org admin learns anything of the server's environment.
        self.read(|txn| access::admin(txn, caller).map(drop))?;
        let keys = resolve_secrets(bundle, secrets)?;
        self.dry_run(op("bundle_plan", caller), |tx| {
            access::admin(&*tx, caller)?;
            let draft = diff::plan(&*tx, caller.account, bundle, &keys, adopt)?;
            if !draft.has_conflicts() {
                diff::execute(tx, caller, bundle, &keys, &draft)?;
            }
            draft.finish(bundle, &keys, false)
        })
    }

    /// Applies `bundle`: performs exactly its plan in one transaction (all or nothing) and
    /// stamps every resource it creates or adopts with the bundle key. Refuses (`conflict`)
    /// while the plan has conflicts and `adopt` is not set, and (`conflict` on `expected`)
    /// when `expected` is given and differs from the plan's fingerprint. Applying the same
    /// bundle twice changes nothing the second time. Returns the plan it applied.
    pub fn bundle_apply(
        &self,
        caller: &Caller,
        bundle: &Bundle,
        secrets: &dyn SecretSource,
        options: &ApplyOptions,
    ) -> Result<BundlePlan> {
        bundle.check()?;
        self.read(|txn| access::admin(txn, caller).map(drop))?;
        let keys = resolve_secrets(bundle, secrets)?;
        self.write(op("bundle_apply", caller), |tx| {
            access::admin(&*tx, caller)?;
            let draft = diff::plan(&*tx, caller.account, bundle, &keys, options.adopt)?;
            let plan = draft.finish(bundle, &keys, true)?;
            if let Some(expected) = &options.expected
                && *expected != plan.fingerprint
            {
                return Err(Error::conflict(
                    "expected",
                    format!(
                        "the plan is now {} and not the reviewed {expected}: the database (or \
                         the bundle) changed since the plan; plan again and review it",
                        plan.fingerprint
                    ),
                ));
            }
            if let Some(k) = plan.conflicts.first() {
                let who = match &k.owner {
                    Some(b) => format!("managed by bundle {b:?}"),
                    None => "created outside any bundle".to_owned(),
                };
                let more = match plan.conflicts.len() - 1 {
                    0 => String::new(),
                    n => format!(" (and {n} more conflict{})", if n == 1 { "" } else { "s" }),
                };
                return Err(Error::conflict(
                    "bundle",
                    format!(
                        "{} {} is {who}{more}: apply with adopt to take it over, or leave it \
                         out of the bundle",
                        k.kind.as_str(),
                        k.name,
                    ),
                ));
            }
            diff::execute(tx, caller, bundle, &keys, &draft)?;
            Ok(plan)
        })
    }

    /// The account's configuration as a bundle with key `bundle_key`: every provider (API
    /// keys as references to environment variables named by [`provider_key_env`]), persona
    /// and non-archived workspace with its settings, instructions, rules, members, custom
    /// models and catalog model statuses. Applied (with `adopt` for resources that exist
    /// there) to a database that holds the same org members, it reproduces this one and its
    /// second plan is empty. Org admins only.
    pub fn bundle_export(&self, caller: &Caller, bundle_key: &str) -> Result<Bundle> {
        validate::slug("bundle", bundle_key)?;
        self.read(|txn| {
            access::admin(txn, caller)?;
            export(txn, caller, bundle_key)
        })
    }
}

fn export(txn: &dyn ReadTxn, caller: &Caller, bundle_key: &str) -> Result<Bundle> {
    let account = caller.account;
    let providers = PROVIDERS.values_with_prefix(txn, &(account,))?;
    let mut bundle = Bundle {
        bundle: bundle_key.to_owned(),
        providers: providers
            .iter()
            .map(|p| diff::provider_view(p, None).0)
            .collect(),
        personas: PERSONAS
            .values_with_prefix(txn, &(account,))?
            .into_iter()
            .map(|p| BundlePersona {
                name: p.name,
                description: p.description,
            })
            .collect(),
        workspaces: Vec::new(),
    };
    for ws in WORKSPACES.values_with_prefix(txn, &(account,))? {
        if ws.archived_at.is_some() {
            continue;
        }
        bundle
            .workspaces
            .push(diff::workspace_view(txn, account, &ws)?);
    }
    bundle.providers.sort_by(|a, b| a.name.cmp(&b.name));
    bundle.personas.sort_by(|a, b| a.name.cmp(&b.name));
    bundle.workspaces.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(bundle)
}
