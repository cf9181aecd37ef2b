//! Personas.

use crate::ids::PersonaId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A persona of an account.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persona {
    /// Prefixed id (`persona_…`).
    pub id: PersonaId,
    /// Unique name (case-insensitive): letters, digits, `_`, `-`, spaces; 1-64 chars.
    pub name: String,
    /// What the persona does (1-2,000 chars).
    pub description: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update; `None` until the first.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Input of `ModelGates::persona_update`: rename and/or new description.
#[derive(Debug, Clone, Default)]
pub struct PersonaPatch {
    /// The new name.
    pub new_name: Option<String>,
    /// The new description.
    pub new_description: Option<String>,
}
