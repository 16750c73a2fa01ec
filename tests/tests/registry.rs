//! The registry sees every annotated function of the binary, across crates, called or not.
//! CI runs this file under `cargo test` and `cargo test --release`.

// Nothing here calls the annotated functions: that is what is being tested.
#![allow(dead_code)]

use std::collections::BTreeSet;

use teei_obs::counted;
// Named once so the linker keeps the crate; none of its functions is called.
use teei_obs_fixture as _;

const LOCAL_PLAIN_LINE: u32 = line!() + 2;
#[counted]
fn local_plain() {}

#[counted(duration)]
async fn local_async() {}

struct Local;

impl Local {
    #[counted(name = "Local::method")]
    fn method(&self) {}
}

mod nested {
    #[teei_obs::counted(concurrent)]
    pub(crate) fn deep() -> Result<(), ()> {
        Ok(())
    }
}

fn registered() -> BTreeSet<(String, String)> {
    teei_obs::registry::functions()
        .map(|entry| (entry.module().to_owned(), entry.name().to_owned()))
        .collect()
}

#[test]
fn entries_from_this_crate_and_an_uncalled_library_crate_are_all_registered() {
    let expected: BTreeSet<(String, String)> = [
        ("registry", "local_plain"),
        ("registry", "local_async"),
        ("registry", "Local::method"),
        ("registry::nested", "deep"),
        ("teei_obs_fixture", "fixture_plain"),
        ("teei_obs_fixture", "fixture_async"),
        ("teei_obs_fixture", "FixtureType::method"),
    ]
    .into_iter()
    .map(|(m, n)| (m.to_owned(), n.to_owned()))
    .collect();
    assert_eq!(teei_obs::registry::functions().len(), expected.len());
    assert_eq!(registered(), expected);
}

#[test]
fn entries_carry_their_source_location() {
    let entry = teei_obs::registry::functions()
        .find(|entry| entry.name() == "local_plain")
        .expect("registered");
    assert!(entry.location().file.ends_with("registry.rs"), "{entry:?}");
    assert_eq!(entry.location().line, LOCAL_PLAIN_LINE);
}

#[test]
fn entries_carry_their_options() {
    let options = |name: &str| {
        let metrics = teei_obs::registry::functions()
            .find(|entry| entry.name() == name)
            .and_then(|entry| entry.metrics())
            .expect("registered");
        (metrics.buckets(), metrics.tracks_concurrency())
    };
    assert_eq!(options("local_plain"), (None, false));
    assert_eq!(
        options("local_async"),
        (Some(&teei_obs::metrics::DEFAULT_BUCKETS[..]), false)
    );
    assert_eq!(options("deep"), (None, true));
}

#[test]
fn init_reports_how_many_functions_it_registered() {
    let obs = teei_obs::init(teei_obs::Config::new("registry-test")).expect("valid registry");
    assert_eq!(obs.registry_entry_count(), 7);
}

#[test]
fn health_checks_declared_in_a_separate_crate_are_found() {
    let check = teei_obs::health::checks()
        .find(|check| check.name() == "fixture-disk")
        .expect("registered from teei-obs-fixture");
    assert_eq!(check.kind(), teei_obs::health::Kind::Disk);
    assert_eq!(check.timeout(), std::time::Duration::from_secs(1));
    assert_eq!(
        check.interval(),
        std::time::Duration::from_secs(30),
        "the disk default"
    );
    assert!(check.in_probe(teei_obs::health::Probe::Readiness));
    assert!(!check.in_probe(teei_obs::health::Probe::Liveness));
    assert!(check.location().file.ends_with("lib.rs"));
    assert_eq!(teei_obs::health::checks().len(), 1);
}
