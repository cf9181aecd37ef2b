//! Validation of mux rules, custom instructions and routed file lists: glob syntax and bounds, rule
//! shape, provider and model references, unreachable-rule warnings.

use std::collections::HashMap;

use crate::error::{Error, Reason, Result};
use crate::glob::RULE_SET_ALTERNATIVES_MAX;
use crate::ids::AccountId;
use crate::model::{self, ModelStatus};
use crate::provider::{self, Provider, ProviderRecord};
use crate::record::routing::*;
use crate::routing::engine::compile_glob;
use crate::storage::ReadTxn;
use crate::validate::excerpt;
use crate::workspace::WorkspaceRecord;

/// Most rules a workspace may have.
pub const MUX_RULES_MAX: usize = 500;
/// Longest glob of a rule, in bytes.
pub(crate) const MATCHER_MAX: usize = 1024;
/// Longest custom instructions text, in bytes (64 KiB).
pub const INSTRUCTIONS_MAX: usize = 64 * 1024;
/// Most files a routed request may name.
pub const ROUTE_FILES_MAX: usize = 1000;

/// Checks what can be checked without the store: matcher presence and glob syntax. Returns the
/// normalized matcher of each rule.
pub(crate) fn check_rules_shape(field: &str, rules: &[NewMuxRule]) -> Result<Vec<Option<String>>> {
    if rules.len() > MUX_RULES_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} rules given; at most {MUX_RULES_MAX} are allowed",
                rules.len()
            ),
        ));
    }
    let mut alternatives = 0;
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let f = format!("{field}[{i}].matcher");
            let matcher = r.matcher.as_deref().filter(|m| !m.is_empty());
            match (r.matcher_type, matcher) {
                (MatcherType::CatchAll, None) => Ok(None),
                (MatcherType::CatchAll, Some(m)) => Err(Error::invalid(
                    f,
                    format!(
                        "catch_all takes no matcher, got {:?}; use filename_match to match files",
                        excerpt(m)
                    ),
                )),
                (ty, None) => Err(Error::invalid(
                    f,
                    format!(
                        "required for {}: a glob such as *.py or src/**/*.rs",
                        ty.as_str()
                    ),
                )),
                (_, Some(m)) => {
                    if m.len() > MATCHER_MAX {
                        return Err(Error::invalid(
                            f,
                            format!(
                                "{:?} is {} bytes; at most {MATCHER_MAX} are allowed",
                                excerpt(m),
                                m.len()
                            ),
                        ));
                    }
                    compile_glob(&f, m)?;
                    let glob = crate::glob::Glob::new(m).map_err(|why| {
                        Error::invalid(
                            f.clone(),
                            format!("{:?} is not accepted: {why}", excerpt(m)),
                        )
                    })?;
                    alternatives += glob.alternatives();
                    if alternatives > RULE_SET_ALTERNATIVES_MAX {
                        return Err(Error::invalid(
                            f,
                            format!(
                                "{:?} brings the rules' globs to {alternatives} alternatives in \
                                 all (each {{a,b}} choice counts); at most \
                                 {RULE_SET_ALTERNATIVES_MAX} are allowed, which keeps routing a \
                                 request within its time bound",
                                excerpt(m)
                            ),
                        ));
                    }
                    Ok(Some(m.to_owned()))
                }
            }
        })
        .collect()
}

/// Globs that match every file: without `/` a glob matches the base name, and `*` matches any
/// run of bytes but `/` (an empty one too); `**` matches any run of bytes.
const MATCHES_EVERY_FILE: [&str; 3] = ["*", "**", "**/*"];

/// Whether every file `later` matches is matched by `earlier` too (a sufficient test, not a
/// complete one: equal globs, or an `earlier` that matches every file).
fn covers(earlier: &str, later: &str) -> bool {
    earlier == later || MATCHES_EVERY_FILE.contains(&earlier)
}

/// The rules no request can reach, each with the earlier rules that take its requests, and a
/// warning in words for each (rules after a `catch_all` share one). A rule is unreachable after
/// a `catch_all`, or when, for each request kind its matcher type applies to, an earlier rule
/// of that kind has a glob that [`covers`] its own.
pub(crate) fn unreachable_rules(rules: &[StoredRule]) -> (Vec<String>, Vec<UnreachableRule>) {
    let mut warnings = Vec::new();
    let mut unreachable = Vec::new();
    let describe = |i: usize| {
        let r: &StoredRule = &rules[i];
        match &r.matcher {
            Some(m) => format!("rules[{i}] ({} {m:?})", r.matcher_type.as_str()),
            None => format!("rules[{i}] ({})", r.matcher_type.as_str()),
        }
    };
    for (j, rule) in rules.iter().enumerate() {
        let Some(glob) = rule.matcher.as_deref() else {
            if rule.matcher_type == MatcherType::CatchAll {
                if j + 1 < rules.len() {
                    warnings.push(format!(
                        "rules[{}..={}] come after the catch_all rule rules[{j}] and can never \
                         match",
                        j + 1,
                        rules.len() - 1
                    ));
                    unreachable.extend((j + 1..rules.len()).map(|index| UnreachableRule {
                        index,
                        shadowed_by: vec![j],
                    }));
                }
                break;
            }
            continue;
        };
        let mut shadowed_by: Vec<usize> = Vec::new();
        let mut covered = true;
        for kind in [RequestKind::Chat, RequestKind::Fim] {
            if !rule.matcher_type.applies_to(kind) {
                continue;
            }
            let first = rules[..j].iter().position(|r| {
                r.matcher_type.applies_to(kind)
                    && r.matcher.as_deref().is_some_and(|m| covers(m, glob))
            });
            match first {
                Some(i) if !shadowed_by.contains(&i) => shadowed_by.push(i),
                Some(_) => {}
                None => covered = false,
            }
        }
        if covered && !shadowed_by.is_empty() {
            shadowed_by.sort_unstable();
            let by: Vec<String> = shadowed_by.iter().map(|&i| describe(i)).collect();
            warnings.push(format!(
                "{} can never match: {} {} every file it matches first",
                describe(j),
                by.join(" and "),
                if by.len() == 1 { "matches" } else { "match" }
            ));
            unreachable.push(UnreachableRule {
                index: j,
                shadowed_by,
            });
        }
    }
    (warnings, unreachable)
}

/// The workspace model a rule names, for `provider`: a family registered for the provider
/// (under its name or type), else a `provider/family` reference. Must be enabled.
pub(crate) fn rule_model_ref(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    p: &Provider,
    field: &str,
    model: &str,
) -> Result<String> {
    let prefixes = [p.name.as_str(), p.provider_type.as_str()];
    let Some(m) = model::for_provider(txn, account, ws, &prefixes, model)? else {
        return Err(Error::invalid(
            field,
            format!(
                "model {:?} is not in the catalog of workspace {:?} for provider {:?}: use a \
                 provider/family from model_list, or register it with model_register (provider \
                 {:?} or {:?})",
                excerpt(model),
                ws.slug,
                p.name,
                p.name,
                p.provider_type.as_str()
            ),
        ));
    };
    if m.spec.status != ModelStatus::Enabled {
        return Err(Error::precondition(
            Reason::ModelDisabled,
            format!(
                "{field}: model {} is disabled in workspace {:?}; enable it with model_set_status \
                 first",
                m.reference(),
                ws.slug
            ),
        ));
    }
    Ok(m.reference())
}

/// Validates `rules` against the store (providers exist, models enabled) and returns them in
/// stored form. Nothing is written.
pub(crate) fn check_rules(
    txn: &dyn ReadTxn,
    account: AccountId,
    ws: &WorkspaceRecord,
    field: &str,
    rules: &[NewMuxRule],
) -> Result<Vec<StoredRule>> {
    let matchers = check_rules_shape(field, rules)?;
    let mut providers: HashMap<String, ProviderRecord> = HashMap::new();
    let mut out = Vec::with_capacity(rules.len());
    for (i, (r, matcher)) in rules.iter().zip(matchers).enumerate() {
        let pf = format!("{field}[{i}].provider");
        let record = match providers.get(&r.provider) {
            Some(p) => p.clone(),
            None => {
                let p = provider::resolve(txn, account, &pf, &r.provider).map_err(|e| match e {
                    Error::NotFound { .. } => Error::invalid(
                        &pf,
                        format!(
                            "no provider {:?} in this account; add it with provider_add",
                            excerpt(&r.provider)
                        ),
                    ),
                    e => e,
                })?;
                providers.insert(r.provider.clone(), p.clone());
                p
            }
        };
        let p = &record.provider;
        if let Some(ty) = r.provider_type
            && ty != p.provider_type
        {
            return Err(Error::invalid(
                format!("{field}[{i}].provider_type"),
                format!(
                    "provider {:?} is of type {}, not {}",
                    p.name,
                    p.provider_type.as_str(),
                    ty.as_str()
                ),
            ));
        }
        let model_ref = rule_model_ref(
            txn,
            account,
            ws,
            p,
            &format!("{field}[{i}].model"),
            &r.model,
        )?;
        out.push(StoredRule {
            provider_id: p.id,
            model: r.model.clone(),
            model_ref,
            matcher_type: r.matcher_type,
            matcher,
        });
    }
    Ok(out)
}

pub(crate) fn check_instructions(field: &str, text: &str) -> Result<()> {
    if text.len() > INSTRUCTIONS_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} bytes given; at most {INSTRUCTIONS_MAX} (64 KiB) are allowed",
                text.len()
            ),
        ));
    }
    if text.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(())
}
/// A routed request names at most [`ROUTE_FILES_MAX`] files of at most 4 KiB each.
pub(crate) fn check_route_files(field: &str, files: &[String]) -> Result<()> {
    if files.len() > ROUTE_FILES_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} files given; at most {ROUTE_FILES_MAX} are allowed",
                files.len()
            ),
        ));
    }
    for (i, f) in files.iter().enumerate() {
        if f.len() > 4096 {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!(
                    "{:?} is {} bytes; at most 4096 are allowed",
                    excerpt(f),
                    f.len()
                ),
            ));
        }
    }
    Ok(())
}
