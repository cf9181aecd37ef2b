pub fn check_invariants() {}
pub fn run_model_check() {}
