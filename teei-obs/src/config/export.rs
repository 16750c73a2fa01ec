//! The OTLP exporter and the span queue in front of it: transport, headers,
//! compression, TLS, timeouts and batching.

use std::time::Duration;

use super::Config;
use super::env::{Env, invalid, parse_headers};
use crate::InitError;

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (collector port 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (collector port 4318, path `/v1/traces`).
    HttpProtobuf,
}

/// Where sampled spans go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceExport {
    /// To an OpenTelemetry collector (or Jaeger, Tempo) over OTLP.
    Otlp {
        /// The full URL spans are sent to (for HTTP, including `/v1/traces`).
        endpoint: String,
        /// The transport.
        protocol: Protocol,
    },
    /// One line per span on standard error.
    Console,
    /// A ring buffer of the latest spans, read with [`Obs::recent_spans`](crate::Obs::recent_spans).
    Memory,
    /// Nowhere (spans still propagate their context).
    None,
    /// Through the bounded queue to an exporter of your own (see [`Config::span_exporter`]).
    Custom(CustomExporter),
}

type StartPipeline = dyn Fn(
        opentelemetry_sdk::Resource,
        crate::trace::QueueSettings,
        crate::trace::PipelineMetrics,
    ) -> Result<crate::trace::Pipeline, String>
    + Send
    + Sync;

/// A span exporter given to [`Config::span_exporter`].
#[derive(Clone)]
pub struct CustomExporter(pub(crate) std::sync::Arc<StartPipeline>);

impl std::fmt::Debug for CustomExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomExporter")
    }
}

impl PartialEq for CustomExporter {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CustomExporter {}

/// Compression of OTLP export requests (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Bodies as they are (the specification's default).
    #[default]
    None,
    /// gzip-compressed bodies.
    Gzip,
}

/// TLS material for the OTLP exporter, as `OTEL_EXPORTER_OTLP_CERTIFICATE`,
/// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `OTEL_EXPORTER_OTLP_CLIENT_KEY` give it:
/// PEM files, read by [`init`](crate::init) (a missing or unreadable file is an init error
/// naming where the path came from).
///
/// Without a CA file, `https://` endpoints are verified against the system's roots.
///
/// ```
/// use teei_obs::config::{Config, OtlpTls};
///
/// let config = Config::new("checkout").otlp_tls(
///     OtlpTls::default()
///         .ca_certificate("/etc/otel/ca.pem")
///         .client_certificate("/etc/otel/client.pem", "/etc/otel/client.key"),
/// );
/// # let _ = config;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpTls {
    pub(crate) ca: Option<PemFile>,
    pub(crate) client_certificate: Option<PemFile>,
    pub(crate) client_key: Option<PemFile>,
}

/// A PEM file and where its path came from (a variable or a builder method).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PemFile {
    pub(crate) origin: &'static str,
    pub(crate) path: std::path::PathBuf,
}

impl OtlpTls {
    /// Trusts only the CA certificates in `path` (PEM) for the collector's certificate.
    pub fn ca_certificate(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca = Some(PemFile {
            origin: "OtlpTls::ca_certificate",
            path: path.into(),
        });
        self
    }

    /// Presents the certificate chain in `certificate` with the private key in `key`
    /// (both PEM) to the collector: mutual TLS.
    pub fn client_certificate(
        mut self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.client_certificate = Some(PemFile {
            origin: "OtlpTls::client_certificate",
            path: certificate.into(),
        });
        self.client_key = Some(PemFile {
            origin: "OtlpTls::client_certificate",
            path: key.into(),
        });
        self
    }
}

/// How spans leave the process.
#[derive(Clone, Debug)]
pub(crate) struct ExportSettings {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) compression: Compression,
    pub(crate) tls: OtlpTls,
    pub(crate) timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) max_batch: usize,
    pub(crate) schedule_delay: Duration,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            headers: Vec::new(),
            compression: Compression::None,
            tls: OtlpTls::default(),
            timeout: Duration::from_secs(10),
            queue_capacity: 2048,
            max_batch: 512,
            schedule_delay: Duration::from_secs(5),
        }
    }
}

impl ExportSettings {
    /// `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`, `…HEADERS`, `…COMPRESSION`, the certificate
    /// files, and the batch processor's `OTEL_BSP_*`.
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), InitError> {
        if let Some(timeout) = env
            .millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")?
            .or(env.millis("OTEL_EXPORTER_OTLP_TIMEOUT")?)
        {
            self.timeout = timeout;
        }
        if let Some(delay) = env.millis("OTEL_BSP_SCHEDULE_DELAY")? {
            self.schedule_delay = delay;
        }
        if let Some(capacity) = env.count("OTEL_BSP_MAX_QUEUE_SIZE")? {
            self.queue_capacity = capacity;
        }
        if let Some(batch) = env.count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            self.max_batch = batch;
        }
        self.headers = env.headers()?;
        self.compression = env.compression()?;
        self.tls = env.tls();
        Ok(())
    }
}

impl Env<'_> {
    /// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`; the values never appear in an error.
    pub(super) fn headers(&self) -> Result<Vec<(String, String)>, InitError> {
        let Some((variable, value)) = self.first([
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ]) else {
            return Ok(Vec::new());
        };
        parse_headers(&value).map_err(|problem| InitError::InvalidHeaders { variable, problem })
    }

    /// `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`.
    pub(super) fn compression(&self) -> Result<Compression, InitError> {
        match self.first([
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ]) {
            None => Ok(Compression::None),
            Some((_, value)) if value == "none" => Ok(Compression::None),
            Some((_, value)) if value == "gzip" => Ok(Compression::Gzip),
            Some((variable, value)) => Err(invalid(variable, value, "`gzip` or `none`")),
        }
    }

    /// The certificate files of the `OTEL_EXPORTER_OTLP_*CERTIFICATE` / `*CLIENT_KEY` family.
    pub(super) fn tls(&self) -> OtlpTls {
        let file = |names| {
            self.first(names).map(|(origin, path)| PemFile {
                origin,
                path: path.into(),
            })
        };
        OtlpTls {
            ca: file([
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
            ]),
            client_certificate: file([
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            ]),
            client_key: file([
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            ]),
        }
    }

    /// The OTLP endpoint and protocol, if an endpoint is set (or `otlp` was asked for, which
    /// takes the specification's default endpoint).
    pub(super) fn endpoint(
        &self,
        explicit_otlp: bool,
    ) -> Result<Option<(String, Protocol)>, InitError> {
        let protocol = match self.first([
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]) {
            None => Protocol::HttpProtobuf,
            Some((_, value)) if value == "http/protobuf" => Protocol::HttpProtobuf,
            Some((_, value)) if value == "grpc" => Protocol::Grpc,
            Some((variable, value)) => {
                return Err(invalid(variable, value, "`http/protobuf` or `grpc`"));
            }
        };
        let insecure = match self.boolean("OTEL_EXPORTER_OTLP_TRACES_INSECURE")? {
            Some(insecure) => insecure,
            None => self
                .boolean("OTEL_EXPORTER_OTLP_INSECURE")?
                .unwrap_or(false),
        };
        let (variable, url) = match (
            self.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            self.var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces),
            (None, Some(base)) => (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                match protocol {
                    Protocol::Grpc => base,
                    Protocol::HttpProtobuf => {
                        format!("{}/v1/traces", base.trim_end_matches('/'))
                    }
                },
            ),
            (None, None) if explicit_otlp => (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                match protocol {
                    Protocol::Grpc => "http://localhost:4317".to_owned(),
                    Protocol::HttpProtobuf => "http://localhost:4318/v1/traces".to_owned(),
                },
            ),
            (None, None) => return Ok(None),
        };
        let url = match protocol {
            // The specification lets a gRPC endpoint be `host:port`, secure unless told not.
            Protocol::Grpc if !url.contains("://") => {
                format!("{}://{url}", if insecure { "http" } else { "https" })
            }
            _ => url,
        };
        if !is_web_url(&url) {
            return Err(invalid(
                variable,
                url,
                "an http:// or https:// URL (for gRPC also host:port)",
            ));
        }
        Ok(Some((url, protocol)))
    }
}

fn is_web_url(url: &str) -> bool {
    url.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    })
}

impl Config {
    /// Adds a header sent with every OTLP export (as `OTEL_EXPORTER_OTLP_HEADERS`).
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.export.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the compression of OTLP export requests.
    pub fn otlp_compression(mut self, compression: Compression) -> Self {
        self.export.compression = compression;
        self
    }

    /// Sets the TLS material for `https://` OTLP endpoints (as the
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` family does).
    pub fn otlp_tls(mut self, tls: OtlpTls) -> Self {
        self.export.tls = tls;
        self
    }

    /// Sets the bound on one export call.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export.timeout = timeout;
        self
    }

    /// Sets how many finished spans may wait for export; more are dropped and counted.
    pub fn span_queue_capacity(mut self, capacity: usize) -> Self {
        self.export.queue_capacity = capacity.max(1);
        self
    }

    /// Sets the time between exports.
    pub fn export_interval(mut self, delay: Duration) -> Self {
        self.export.schedule_delay = delay;
        self
    }
}
