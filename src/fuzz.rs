//! Settings shared by the property tests that fuzz wasql's boundaries (the
//! guest-result validator, module inspection and description parsing, the
//! statement splitter): one place decides how many cases each runs.

use proptest::test_runner::Config;

/// A proptest configuration running `default` cases, or `WASQL_FUZZ_CASES`
/// cases when that is set (for long runs). Failures are not persisted to
/// files: a failure found becomes a plain regression test instead.
pub fn config(default: u32) -> Config {
    let cases = match std::env::var("WASQL_FUZZ_CASES") {
        Ok(cases) => cases
            .parse()
            .unwrap_or_else(|_| panic!("WASQL_FUZZ_CASES={cases:?} is not a number of cases")),
        Err(_) => default,
    };
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
