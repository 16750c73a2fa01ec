//! teei-obs's sinks on a standard `tracing_subscriber::Registry`, next to a `fmt` layer:
//! what a service that already runs other layers (`fmt`, `console-subscriber`, a file
//! appender) does instead of letting `init` install its own subscriber.
//!
//!   cargo run -p teei-obs-examples --example composed
//!
//! Each event below appears twice on standard error: once as teei-obs's JSON line (with
//! the trace ID), once as `fmt`'s line; the spans land in teei-obs's in-memory sink (or a
//! collector, with `OTEL_EXPORTER_OTLP_ENDPOINT`).

use teei_obs::traced;
use tracing_subscriber::layer::SubscriberExt;

#[traced(err)]
fn settle(invoice: u32) -> Result<u32, String> {
    tracing::info!(invoice, "settling");
    if invoice.is_multiple_of(2) {
        Err(format!("invoice {invoice} was already settled"))
    } else {
        Ok(invoice * 100)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let obs = teei_obs::init(
        teei_obs::config!()?
            .service_name("composed")
            .log_format(teei_obs::log::LogFormat::Json)
            .install_subscriber(false),
    )?;
    let subscriber = tracing_subscriber::registry()
        // Spans, log lines and Sentry, each behind its own filter (traces filter, RUST_LOG).
        .with(obs.layers())
        // Anything else the service runs.
        .with(tracing_subscriber::fmt::layer().with_target(false));
    tracing::subscriber::set_global_default(subscriber)?;

    let _ = settle(1);
    let _ = settle(2);
    obs.flush()?;
    for span in obs.recent_spans() {
        println!(
            "span {} trace={} status={:?}",
            span.name,
            span.span_context.trace_id(),
            span.status
        );
    }
    obs.shutdown()?;
    Ok(())
}
