//! Compile-fail and compile-pass tests of the macros, pinned with trybuild.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read every diff.

#[test]
fn counted_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/counted/pass/*.rs");
    cases.compile_fail("ui/counted/fail/*.rs");
}

#[test]
fn traced_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/traced/pass/*.rs");
    cases.compile_fail("ui/traced/fail/*.rs");
}

#[test]
fn health_check_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/health_check/pass/*.rs");
    cases.compile_fail("ui/health_check/fail/*.rs");
}
