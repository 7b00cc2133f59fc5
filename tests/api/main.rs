//! The integration tests, as one binary: each module was once its own test binary, linking the
//! whole crate and its dependencies again (most of the test build time on two cores). Every
//! test still runs in its own process under `cargo nextest run`; one file's tests are
//! `cargo nextest run -E 'test(/^deals::/)'`. `common` is the shared harness.

// First, so that `backend_tests!` is in scope in every module below.
#[macro_use]
mod common;

mod accounts;
mod api_keys;
mod architecture;
mod audit;
mod contract;
mod deals;
mod demands;
mod faults;
mod first_run;
mod foundation;
mod ids;
mod limits;
mod lists;
mod mail;
mod migrations;
mod openapi;
mod organizations;
mod problems;
mod processes;
mod reads;
mod request_examples;
mod response_examples;
mod rules;
mod search;
mod security;
mod seed;
mod stats;
mod technologies;
mod valuations;
mod webhooks;

/// A file in `tests/api/` without its `mod` line above is never compiled, and a file beside
/// `tests/api/` is a test binary of its own again: both fail here (a merge may bring either).
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let names = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(tests), ["api"], "tests/ holds one binary, tests/api/");
    let main = include_str!("main.rs");
    let declared = |module: &str| main.lines().any(|l| l == format!("mod {module};"));
    let missing: Vec<String> = names(&format!("{tests}/api"))
        .into_iter()
        .filter(|name| name != "main.rs")
        .filter(|name| !declared(name.strip_suffix(".rs").unwrap_or(name)))
        .collect();
    assert!(missing.is_empty(), "add `mod NAME;` to tests/api/main.rs for {missing:?}");
}
