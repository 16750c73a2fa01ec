//! A certificate authority made by the test: a CA, a server certificate for `localhost` and
//! `127.0.0.1`, and a client certificate, all as PEM, written to a temporary directory so
//! that the `OTEL_EXPORTER_OTLP_*CERTIFICATE` variables can point at real files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A PEM certificate with its private key.
#[derive(Clone, Debug)]
pub struct Pem {
    /// The certificate (PEM).
    pub certificate: String,
    /// Its private key (PEM, PKCS#8).
    pub key: String,
}

/// A CA with one server and one client certificate it signed, and their files.
#[derive(Debug)]
pub struct TestCa {
    /// The CA certificate (PEM).
    pub ca: String,
    /// For `localhost` / `127.0.0.1`.
    pub server: Pem,
    /// A client certificate (CN `teei-obs-test-client`).
    pub client: Pem,
    dir: PathBuf,
}

impl TestCa {
    /// Generates a CA named `name` and its two certificates; writes them under a fresh
    /// temporary directory (removed on drop).
    pub fn generate(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
            .expect("self-signed CA");

        let leaf = |purpose: ExtendedKeyUsagePurpose, common_name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into().expect("DNS name")),
                SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            ];
            params.extended_key_usages = vec![purpose];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let key = KeyPair::generate().expect("leaf key");
            let certificate = params.signed_by(&key, &ca).expect("signed leaf");
            Pem {
                certificate: certificate.pem(),
                key: key.serialize_pem(),
            }
        };
        let server = leaf(ExtendedKeyUsagePurpose::ServerAuth, "localhost");
        let client = leaf(ExtendedKeyUsagePurpose::ClientAuth, "teei-obs-test-client");

        let dir = std::env::temp_dir().join(format!(
            "teei-obs-ca-{}-{}",
            std::process::id(),
            teei_obs::trace::generate_id()
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let this = TestCa {
            ca: ca.pem(),
            server,
            client,
            dir,
        };
        for (file, text) in [
            ("ca.pem", &this.ca),
            ("server.pem", &this.server.certificate),
            ("server.key", &this.server.key),
            ("client.pem", &this.client.certificate),
            ("client.key", &this.client.key),
        ] {
            std::fs::write(this.dir.join(file), text).expect("write PEM");
        }
        this
    }

    /// The path of one of `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
