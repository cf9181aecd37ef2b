//! Test kit for store crates: the backend conformance suite and the model-based domain check.
//! Enabled by the `testkit` feature.

mod conformance;
mod model;

pub use conformance::run_conformance;
pub use model::{
    Acknowledged, OpSequence, check_invariants, run_model_check, run_until_storage_failure,
    verify_reopened,
};
