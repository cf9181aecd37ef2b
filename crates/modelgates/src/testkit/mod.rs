//! Test kit for store crates: the backend conformance suite, the model-based domain check and
//! the usage rollup property.
//! Enabled by the `testkit` feature.

mod conflicts;
mod conformance;
mod model;
mod usage;

pub use conflicts::Conflicting;
pub use conformance::run_conformance;
pub use model::{
    Acknowledged, OpSequence, check_invariants, run_model_check, run_until_storage_failure,
    verify_reopened,
};
pub use usage::run_usage_check;

pub use crate::schema::reencode_mismatches;
