//! The names of the metric families teei-obs produces, one constant each: the producers
//! register them under these names and the dashboard and rule generator (`ops`) queries
//! them by the same constants, so the two cannot drift apart. For dashboards and alerts of
//! your own, too.
//!
//! ```
//! assert_eq!(teei_obs::metrics::names::HTTP_REQUESTS_TOTAL, "http_requests_total");
//! ```

/// Calls of a `#[counted]` function by `function`, `module`, `result`.
pub const FUNCTION_CALLS_TOTAL: &str = "function_calls_total";
/// Durations of a `#[counted(duration)]` function.
pub const FUNCTION_CALLS_DURATION_SECONDS: &str = "function_calls_duration_seconds";
/// Calls of a `#[counted(concurrent)]` function in progress.
pub const FUNCTION_CALLS_CONCURRENT: &str = "function_calls_concurrent";
/// HTTP requests by `method`, `route`, `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// HTTP request durations by `method`, `route`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// HTTP request body sizes.
pub const HTTP_REQUEST_SIZE_BYTES: &str = "http_request_size_bytes";
/// HTTP response body sizes.
pub const HTTP_RESPONSE_SIZE_BYTES: &str = "http_response_size_bytes";
/// HTTP requests being served.
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_requests_in_flight";
/// Each health check's last result (1 passing, 0 failing) by `name`, `kind`.
pub const HEALTH_CHECK_STATUS: &str = "health_check_status";
/// Each health check's run durations.
pub const HEALTH_CHECK_DURATION_SECONDS: &str = "health_check_duration_seconds";
/// Database queries by `operation`, `table`, `status`.
pub const DB_QUERIES_TOTAL: &str = "db_queries_total";
/// Database query durations.
pub const DB_QUERY_DURATION_SECONDS: &str = "db_query_duration_seconds";
/// Events processed by `event_type`, `status`.
pub const EVENTS_PROCESSED_TOTAL: &str = "events_processed_total";
/// Events published by `event_type`.
pub const EVENTS_PUBLISHED_TOTAL: &str = "events_published_total";
/// Event processing durations.
pub const EVENT_PROCESSING_DURATION_SECONDS: &str = "event_processing_duration_seconds";
/// Messages waiting per `queue`.
pub const QUEUE_SIZE: &str = "queue_size";
/// Errors by `type`, `component`.
pub const ERRORS_TOTAL: &str = "errors_total";
/// Open connections by `type`.
pub const ACTIVE_CONNECTIONS: &str = "active_connections";
/// How late a 1 s timer fires on the async runtime.
pub const TOKIO_SCHEDULING_DELAY_SECONDS: &str = "tokio_scheduling_delay_seconds";
/// Worker threads of the Tokio runtime.
pub const TOKIO_WORKERS: &str = "tokio_workers";
/// Tasks alive in the Tokio runtime.
pub const TOKIO_ALIVE_TASKS: &str = "tokio_alive_tasks";
/// Tasks in the Tokio runtime's global queue.
pub const TOKIO_GLOBAL_QUEUE_DEPTH: &str = "tokio_global_queue_depth";
/// Spans dropped by `reason`.
pub const SPANS_DROPPED_TOTAL: &str = "teei_obs_spans_dropped_total";
/// Spans exported.
pub const SPANS_EXPORTED_TOTAL: &str = "teei_obs_spans_exported_total";
/// Failed span export calls.
pub const SPAN_EXPORT_FAILURES_TOTAL: &str = "teei_obs_span_export_failures_total";
/// Spans waiting for export.
pub const SPAN_QUEUE_LENGTH: &str = "teei_obs_span_queue_length";
/// Sentry envelopes dropped by `reason`.
pub const SENTRY_ENVELOPES_DROPPED_TOTAL: &str = "teei_obs_sentry_envelopes_dropped_total";
/// Sentry envelopes handed to the transport.
pub const SENTRY_ENVELOPES_SUBMITTED_TOTAL: &str = "teei_obs_sentry_envelopes_submitted_total";

/// Every name above, for checks that the producers register them all.
pub const ALL: [&str; 28] = [
    FUNCTION_CALLS_TOTAL,
    FUNCTION_CALLS_DURATION_SECONDS,
    FUNCTION_CALLS_CONCURRENT,
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUEST_SIZE_BYTES,
    HTTP_RESPONSE_SIZE_BYTES,
    HTTP_REQUESTS_IN_FLIGHT,
    HEALTH_CHECK_STATUS,
    HEALTH_CHECK_DURATION_SECONDS,
    DB_QUERIES_TOTAL,
    DB_QUERY_DURATION_SECONDS,
    EVENTS_PROCESSED_TOTAL,
    EVENTS_PUBLISHED_TOTAL,
    EVENT_PROCESSING_DURATION_SECONDS,
    QUEUE_SIZE,
    ERRORS_TOTAL,
    ACTIVE_CONNECTIONS,
    TOKIO_SCHEDULING_DELAY_SECONDS,
    TOKIO_WORKERS,
    TOKIO_ALIVE_TASKS,
    TOKIO_GLOBAL_QUEUE_DEPTH,
    SPANS_DROPPED_TOTAL,
    SPANS_EXPORTED_TOTAL,
    SPAN_EXPORT_FAILURES_TOTAL,
    SPAN_QUEUE_LENGTH,
    SENTRY_ENVELOPES_DROPPED_TOTAL,
    SENTRY_ENVELOPES_SUBMITTED_TOTAL,
];
