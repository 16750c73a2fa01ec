//! Building the OTLP span exporter from the configuration: endpoint, protocol, headers,
//! compression and TLS (the system's roots, a private CA, a client certificate).
//!
//! The certificate files are read and parsed on the calling thread by [`OtlpSettings::load`],
//! so a missing, unreadable or empty file is an [`InitError`] naming the variable (or the
//! builder method) and the path; the exporter itself is built later on the export thread.

use std::time::Duration;

use crate::InitError;
use crate::config::{Compression, Config, OtlpTls, PemFile, Protocol};

/// Everything the export thread needs to build an OTLP exporter.
#[derive(Clone, Debug)]
pub(crate) struct OtlpSettings {
    pub(crate) endpoint: String,
    pub(crate) protocol: Protocol,
    pub(crate) timeout: Duration,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) compression: Compression,
    pub(crate) tls: TlsMaterial,
}

/// PEM bytes read from the configured files.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsMaterial {
    pub(crate) ca: Option<Vec<u8>>,
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl OtlpSettings {
    /// Reads the TLS files of `config` for an export to `endpoint`.
    pub(crate) fn load(
        config: &Config,
        endpoint: String,
        protocol: Protocol,
    ) -> Result<Self, InitError> {
        Ok(OtlpSettings {
            tls: TlsMaterial::load(&config.export.tls)?,
            endpoint,
            protocol,
            timeout: config.export.timeout,
            headers: config.export.headers.clone(),
            compression: config.export.compression,
        })
    }

    /// Builds the exporter; runs on the export thread, inside its Tokio runtime.
    pub(crate) fn build(&self) -> Result<opentelemetry_otlp::SpanExporter, String> {
        let built = match self.protocol {
            Protocol::Grpc => self.build_grpc(),
            Protocol::HttpProtobuf => self.build_http(),
        };
        built.map_err(|error| format!("{}: {error}", self.endpoint))
    }

    #[cfg(feature = "otlp-grpc")]
    fn build_grpc(&self) -> Result<opentelemetry_otlp::SpanExporter, String> {
        use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};

        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in &self.headers {
            let name = tonic::metadata::MetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| format!("header {name:?} is not a gRPC metadata key"))?;
            let value = value
                .parse()
                .map_err(|_| "a header value is not valid gRPC metadata".to_owned())?;
            metadata.append(name, value);
        }
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&self.endpoint)
            .with_timeout(self.timeout)
            .with_metadata(metadata);
        if self.compression == Compression::Gzip {
            builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
        }
        if self.endpoint.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            tls = match &self.tls.ca {
                Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
                None => tls.with_native_roots(),
            };
            if let Some((certificate, key)) = &self.tls.identity {
                tls = tls.identity(Identity::from_pem(certificate, key));
            }
            builder = builder.with_tls_config(tls);
        }
        builder.build().map_err(|error| error.to_string())
    }

    #[cfg(not(feature = "otlp-grpc"))]
    fn build_grpc(&self) -> Result<opentelemetry_otlp::SpanExporter, String> {
        Err("OTLP over gRPC needs the `otlp-grpc` feature of teei-obs".to_owned())
    }

    #[cfg(feature = "otlp-http")]
    fn build_http(&self) -> Result<opentelemetry_otlp::SpanExporter, String> {
        use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

        let mut client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout);
        if let Some(ca) = &self.tls.ca {
            let roots = reqwest::Certificate::from_pem_bundle(ca).map_err(|e| e.to_string())?;
            client = client.tls_certs_only(roots);
        }
        if let Some((certificate, key)) = &self.tls.identity {
            let mut pem = certificate.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            client = client.identity(reqwest::Identity::from_pem(&pem).map_err(|e| e.to_string())?);
        }
        let client = client.build().map_err(|error| error.to_string())?;
        // The exporter percent-decodes header values once more: hand it escaped ones.
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.replace('%', "%25")))
            .collect();
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(&self.endpoint)
            .with_timeout(self.timeout)
            .with_headers(headers);
        if self.compression == Compression::Gzip {
            builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
        }
        builder.build().map_err(|error| error.to_string())
    }

    #[cfg(not(feature = "otlp-http"))]
    fn build_http(&self) -> Result<opentelemetry_otlp::SpanExporter, String> {
        Err("OTLP over HTTP needs the `otlp-http` feature of teei-obs".to_owned())
    }
}

impl TlsMaterial {
    fn load(tls: &OtlpTls) -> Result<Self, InitError> {
        let ca = tls
            .ca
            .as_ref()
            .map(|file| read_pem(file, PemKind::Certificates))
            .transpose()?;
        let identity = match (&tls.client_certificate, &tls.client_key) {
            (None, None) => None,
            (Some(certificate), Some(key)) => Some((
                read_pem(certificate, PemKind::Certificates)?,
                read_pem(key, PemKind::PrivateKey)?,
            )),
            (Some(file), None) | (None, Some(file)) => {
                return Err(InitError::Certificate {
                    origin: file.origin,
                    path: file.path.clone(),
                    reason:
                        "a client certificate needs both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE \
                             and OTEL_EXPORTER_OTLP_CLIENT_KEY"
                            .to_owned(),
                });
            }
        };
        Ok(TlsMaterial { ca, identity })
    }
}

#[derive(Clone, Copy)]
enum PemKind {
    Certificates,
    PrivateKey,
}

/// Reads `file` and checks that it holds what it should, so that a wrong file is an init
/// error now rather than a failed handshake later.
fn read_pem(file: &PemFile, kind: PemKind) -> Result<Vec<u8>, InitError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let error = |reason: String| InitError::Certificate {
        origin: file.origin,
        path: file.path.clone(),
        reason,
    };
    let bytes = std::fs::read(&file.path).map_err(|e| error(e.to_string()))?;
    let found = match kind {
        PemKind::Certificates => {
            let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
            match certificates {
                Ok(certificates) if !certificates.is_empty() => Ok(()),
                Ok(_) => Err("no PEM certificate in the file".to_owned()),
                Err(e) => Err(format!("not a PEM certificate file: {e}")),
            }
        }
        PemKind::PrivateKey => PrivateKeyDer::from_pem_slice(&bytes)
            .map(drop)
            .map_err(|e| format!("no PEM private key in the file: {e}")),
    };
    found.map_err(error)?;
    Ok(bytes)
}
