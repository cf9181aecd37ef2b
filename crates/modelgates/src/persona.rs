//! Personas (seed 004): named descriptions of a role an assistant can take, unique per account
//! by name (case-insensitive) and refused when their description nearly duplicates another's.

use std::collections::BTreeSet;

use crate::access;
use crate::clock::millis;
use crate::error::{Error, Result};
use crate::handle::{Caller, ModelGates, Tx, op};
use crate::ids::{AccountId, PersonaId};
pub use crate::record::persona::*;
use crate::schema::{PERSONA_NAMES, PERSONAS};
use crate::storage::ReadTxn;
use crate::validate::{self, Page, Paged, excerpt};

const NAME_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 2000;

/// Descriptions at least this similar (Jaccard index of their character-trigram sets, after
/// normalization) are near-duplicates.
pub const SIMILARITY_THRESHOLD: f64 = 0.8;

fn check_name(field: &str, name: &str) -> Result<()> {
    let len = name.chars().count();
    if len == 0 || len > NAME_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} is {len} characters; a persona name has 1 to {NAME_MAX}",
                excerpt(name)
            ),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | ' ')))
    {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} contains {c:?}; use letters, digits, '_', '-' and spaces",
                excerpt(name)
            ),
        ));
    }
    if name.trim() != name || name.trim().is_empty() {
        return Err(Error::invalid(
            field,
            format!("{name:?} is blank or starts or ends with a space"),
        ));
    }
    Ok(())
}

fn check_description(field: &str, d: &str) -> Result<()> {
    validate::text(field, d, DESCRIPTION_MAX)?;
    if d.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty or blank"));
    }
    Ok(())
}

/// Lowercased words of letters and digits, joined by single spaces.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The character trigrams of normalized text (padded, so one-word texts have some).
fn trigrams(text: &str) -> BTreeSet<[char; 3]> {
    let chars: Vec<char> = format!("  {}  ", normalize(text)).chars().collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// Lexical similarity of two descriptions in [0, 1]: the Jaccard index of their character
/// trigram sets after lowercasing and collapsing punctuation and whitespace. Robust to case,
/// punctuation, word order changes of a few words and small typos.
pub fn description_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (trigrams(a), trigrams(b));
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

fn name_key(account: AccountId, name: &str) -> (AccountId, String) {
    (account, name.to_lowercase())
}

fn resolve(txn: &dyn ReadTxn, account: AccountId, name_or_id: &str) -> Result<Persona> {
    let id = if name_or_id.starts_with(PersonaId::PREFIX) {
        Some(PersonaId::parse_field(name_or_id, "persona")?)
    } else {
        PERSONA_NAMES.get(txn, &name_key(account, name_or_id))?
    };
    match id {
        Some(id) => PERSONAS.get(txn, &(account, id))?,
        None => None,
    }
    .ok_or_else(|| Error::not_found("persona", excerpt(name_or_id)))
}

fn check_unique(
    txn: &dyn ReadTxn,
    account: AccountId,
    name: &str,
    description: &str,
    except: Option<PersonaId>,
) -> Result<()> {
    if let Some(owner) = PERSONA_NAMES.get(txn, &name_key(account, name))?
        && Some(owner) != except
    {
        return Err(Error::conflict(
            "name",
            format!("persona name {name:?} is already used by persona {owner}"),
        ));
    }
    for other in PERSONAS.values_with_prefix(txn, &(account,))? {
        if Some(other.id) == except {
            continue;
        }
        let sim = description_similarity(description, &other.description);
        if sim >= SIMILARITY_THRESHOLD {
            return Err(Error::conflict(
                "description",
                format!(
                    "the description is a near-duplicate of persona {:?}'s ({:.0}% similar, \
                     threshold {:.0}%); update that persona or describe this one differently",
                    other.name,
                    sim * 100.0,
                    SIMILARITY_THRESHOLD * 100.0
                ),
            ));
        }
    }
    Ok(())
}

/// A retry of the create with the same idempotency key gets the first result.
impl crate::idempotency::store::Replayable for Persona {}

impl ModelGates {
    /// Creates a persona (org admins only).
    pub fn persona_create(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
    ) -> Result<Persona> {
        self.write_once(op("persona_create", caller), &(name, description), |tx| {
            create_in(tx, caller, name, description)
        })
    }

    /// Renames a persona and/or changes its description.
    pub fn persona_update(
        &self,
        caller: &Caller,
        name_or_id: &str,
        patch: PersonaPatch,
    ) -> Result<Persona> {
        self.write(op("persona_update", caller), |tx| {
            update_in(tx, caller, name_or_id, &patch)
        })
    }

    /// Lists the account's personas, oldest first.
    pub fn persona_list(&self, caller: &Caller, page: Page) -> Result<Paged<Persona>> {
        self.read(|txn| {
            access::member(txn, caller)?;
            Ok(page.apply(PERSONAS.values_with_prefix(txn, &(caller.account,))?))
        })
    }

    /// One persona by name (case-insensitive) or id.
    pub fn persona_get(&self, caller: &Caller, name_or_id: &str) -> Result<Persona> {
        self.read(|txn| {
            access::member(txn, caller)?;
            resolve(txn, caller.account, name_or_id)
        })
    }

    /// Deletes a persona.
    pub fn persona_delete(&self, caller: &Caller, name_or_id: &str) -> Result<Persona> {
        self.write(op("persona_delete", caller), |tx| {
            delete_in(tx, caller, name_or_id)
        })
    }
}

/// [`ModelGates::persona_create`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn create_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    name: &str,
    description: &str,
) -> Result<Persona> {
    check_name("name", name)?;
    check_description("description", description)?;
    access::admin(&*tx, caller)?;
    let account = caller.account;
    check_unique(&*tx, account, name, description, None)?;
    let p = Persona {
        id: PersonaId::generate(millis(tx.now)),
        name: name.to_owned(),
        description: description.to_owned(),
        created_at: tx.now,
        updated_at: None,
    };
    PERSONAS.put(&mut *tx, &(account, p.id), &p)?;
    PERSONA_NAMES.put(&mut *tx, &name_key(account, name), &p.id)?;
    Ok(p)
}

/// [`ModelGates::persona_update`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn update_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    name_or_id: &str,
    patch: &PersonaPatch,
) -> Result<Persona> {
    if patch.new_name.is_none() && patch.new_description.is_none() {
        return Err(Error::invalid(
            "new_name",
            "nothing to change: give new_name, new_description or both",
        ));
    }
    if let Some(n) = &patch.new_name {
        check_name("new_name", n)?;
    }
    if let Some(d) = &patch.new_description {
        check_description("new_description", d)?;
    }
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let mut p = resolve(&*tx, account, name_or_id)?;
    let name = patch.new_name.clone().unwrap_or_else(|| p.name.clone());
    let description = patch
        .new_description
        .clone()
        .unwrap_or_else(|| p.description.clone());
    check_unique(&*tx, account, &name, &description, Some(p.id)).map_err(|e| match e {
        Error::Conflict { field, message } => Error::Conflict {
            field: field.map(|f| format!("new_{f}")),
            message,
        },
        e => e,
    })?;
    if name != p.name {
        PERSONA_NAMES.delete(&mut *tx, &name_key(account, &p.name))?;
        PERSONA_NAMES.put(&mut *tx, &name_key(account, &name), &p.id)?;
    }
    p.name = name;
    p.description = description;
    p.updated_at = Some(tx.now);
    PERSONAS.put(&mut *tx, &(account, p.id), &p)?;
    Ok(p)
}

/// [`ModelGates::persona_delete`] inside transaction `tx`: its checks, then its writes.
pub(crate) fn delete_in(tx: &mut Tx<'_>, caller: &Caller, name_or_id: &str) -> Result<Persona> {
    access::admin(&*tx, caller)?;
    let account = caller.account;
    let p = resolve(&*tx, account, name_or_id)?;
    PERSONAS.delete(&mut *tx, &(account, p.id))?;
    PERSONA_NAMES.delete(&mut *tx, &name_key(account, &p.name))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicates_are_caught_and_different_roles_are_not() {
        let dup = [
            (
                "Expert Python developer who writes tests first.",
                "expert python developer, who writes tests first",
            ),
            (
                "Reviews Rust code for safety and performance issues",
                "Reviews Rust code for safety and performance issue",
            ),
        ];
        for (a, b) in dup {
            let s = description_similarity(a, b);
            assert!(s >= SIMILARITY_THRESHOLD, "{s}: {a} / {b}");
        }
        let different = [
            ("Expert Python developer", "Expert Rust developer"),
            (
                "Writes SQL migrations for Postgres",
                "Reviews pull requests for security issues",
            ),
            ("A helpful assistant", "A terse assistant"),
        ];
        for (a, b) in different {
            let s = description_similarity(a, b);
            assert!(s < SIMILARITY_THRESHOLD, "{s}: {a} / {b}");
        }
    }

    #[test]
    fn names_allow_letters_digits_underscore_dash_and_spaces() {
        for ok in ["Reviewer", "code-reviewer_2", "Senior Rust Dev", "Ünïcode"] {
            assert!(check_name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", " lead", "trail ", "a/b", "emoji🙂", &"x".repeat(65)] {
            let e = check_name("name", bad).unwrap_err();
            assert_eq!(e.field(), Some("name"), "{bad}");
        }
    }
}
