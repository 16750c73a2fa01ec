//! Head sampling: a ratio sampler keeps a fraction of new traces within statistical bounds,
//! and children always follow their parent's decision.

use teei_obs::config::TraceExport;
use teei_obs::trace::{MessageHeaders, RequestContext, Root, Sampler};
use teei_obs::traced;
use tracing_subscriber::layer::SubscriberExt;

#[traced]
fn root(i: u32) {
    child(i);
}

#[traced]
fn child(i: u32) -> u32 {
    i
}

#[traced]
fn continued() {}

fn obs(sampler: Sampler) -> teei_obs::Obs {
    teei_obs::init(
        teei_obs::Config::new("sampling")
            .sampler(sampler)
            .install_subscriber(false)
            .memory_capacity(50_000)
            .trace_export(TraceExport::Memory),
    )
    .unwrap()
}

fn ten_percent_of_ten_thousand_roots(dispatch: impl FnOnce(&teei_obs::Obs) -> tracing::Dispatch) {
    let obs = obs(Sampler::ParentBased(Root::TraceIdRatio(0.1)));
    tracing::dispatcher::with_default(&dispatch(&obs), || {
        for i in 0..10_000 {
            root(i);
        }
    });
    let spans = obs.recent_spans();
    let roots: Vec<_> = spans.iter().filter(|s| s.name == "root").collect();
    let children: Vec<_> = spans.iter().filter(|s| s.name == "child").collect();
    // Binomial(10 000, 0.1): mean 1000, standard deviation 30; five deviations either way.
    assert!(
        (850..=1150).contains(&roots.len()),
        "{} sampled roots",
        roots.len()
    );
    assert_eq!(
        children.len(),
        roots.len(),
        "every sampled root has its child, no other child"
    );
    for child in children {
        let parent = roots
            .iter()
            .find(|root| root.span_context.span_id() == child.parent_span_id)
            .expect("the parent of a sampled child was sampled");
        assert_eq!(
            parent.span_context.trace_id(),
            child.span_context.trace_id()
        );
    }
}

#[test]
fn ten_percent_of_ten_thousand_roots_are_sampled_and_children_follow() {
    ten_percent_of_ten_thousand_roots(|obs| tracing::Dispatch::new(obs.subscriber()));
}

#[test]
fn the_layer_on_a_registry_samples_the_same_way() {
    ten_percent_of_ten_thousand_roots(|obs| {
        tracing::Dispatch::new(tracing_subscriber::registry().with(obs.span_layer()))
    });
}

fn remote(flags: &str) -> RequestContext {
    let mut headers = MessageHeaders::default();
    headers.insert(
        "traceparent",
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}"),
    );
    RequestContext::extract(&headers)
}

#[test]
fn every_sink_composed_on_a_registry_samples_the_same_way() {
    ten_percent_of_ten_thousand_roots(|obs| teei_obs_tests::Wiring::Composed.dispatch(obs));
}

#[test]
fn a_remote_parent_decides_for_the_spans_that_continue_it() {
    for wiring in teei_obs_tests::Wiring::BOTH {
        remote_parent_decides(wiring);
    }
}

fn remote_parent_decides(wiring: teei_obs_tests::Wiring) {
    // Roots would never be sampled here, but a sampled remote parent wins.
    let obs = obs(Sampler::ParentBased(Root::AlwaysOff));
    tracing::dispatcher::with_default(&wiring.dispatch(&obs), || {
        remote("01").in_scope(continued);
        remote("00").in_scope(continued);
        continued();
    });
    let spans = obs.recent_spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(
        spans[0].span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(spans[0].parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(spans[0].parent_span_is_remote);
}
