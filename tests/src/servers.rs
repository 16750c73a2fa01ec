//! Real dependency servers for the health tests, started on loopback ports by the tests
//! themselves: PostgreSQL from Debian's server binaries in a temporary data directory, and
//! Debian's `nats-server` and `prometheus`. `scripts/test` installs them when missing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root (PostgreSQL refuses root).
fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

fn postgres_bin(name: &str) -> String {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .last()
        .map(|dir| dir.join("bin").join(name).display().to_string())
        .unwrap_or_else(|| name.to_owned())
}

/// Waits (bounded) until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, up: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let open = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        if open == up {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A PostgreSQL server in a temporary data directory.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Postgres {
    /// Creates the cluster and starts the server on `addr`.
    pub fn start(addr: SocketAddr) -> Postgres {
        let dir = std::env::temp_dir().join(format!(
            "teei-obs-pg-{}-{}",
            std::process::id(),
            addr.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("data directory");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let out = as_postgres(&postgres_bin("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(dir.join("data"))
            .output()
            .expect("initdb: install Debian's postgresql (scripts/test does)");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Postgres {
            dir,
            addr,
            child: None,
        };
        server.resume();
        server
    }

    /// The connection string.
    pub fn url(&self) -> String {
        format!(
            "host={} port={} user=postgres dbname=postgres connect_timeout=2",
            self.addr.ip(),
            self.addr.port()
        )
    }

    /// Starts the server again after [`Postgres::stop`].
    pub fn resume(&mut self) {
        let child = as_postgres(&postgres_bin("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.addr.port().to_string(), "-c"])
            .arg(format!("listen_addresses={}", self.addr.ip()))
            .arg("-k")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres");
        self.child = Some(child);
        assert!(
            wait_for_port(self.addr, true),
            "PostgreSQL did not start on {}",
            self.addr
        );
    }

    /// Stops the server (fast shutdown) and waits until the port is closed.
    pub fn stop(&mut self) {
        self.signal_postmaster();
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        assert!(wait_for_port(self.addr, false), "PostgreSQL did not stop");
    }

    /// SIGINT (fast shutdown) to the postmaster, whose PID heads `postmaster.pid`: the
    /// child we spawned may be `runuser`, which does not pass signals on.
    fn signal_postmaster(&self) {
        let pid = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::trim).map(str::to_owned));
        if let Some(pid) = pid {
            let _ = Command::new("kill").args(["-INT", &pid]).status();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_postmaster();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A NATS server.
#[derive(Debug)]
pub struct Nats {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Nats {
    /// Starts `nats-server` on `addr`.
    pub fn start(addr: SocketAddr) -> Nats {
        let mut server = Nats { addr, child: None };
        server.resume();
        server
    }

    /// Starts it again after [`Nats::stop`].
    pub fn resume(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                &self.addr.ip().to_string(),
                "-p",
                &self.addr.port().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server: install Debian's nats-server (scripts/test does)");
        self.child = Some(child);
        assert!(
            wait_for_port(self.addr, true),
            "NATS did not start on {}",
            self.addr
        );
    }

    /// Stops it and waits until the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(wait_for_port(self.addr, false), "NATS did not stop");
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Debian's Prometheus on a free loopback port, with its data in a temporary directory;
/// killed (and the directory removed) on drop.
#[derive(Debug)]
pub struct Prometheus {
    /// Where its API listens.
    pub addr: SocketAddr,
    /// Its directory, removed on drop when it made it.
    dir: Option<PathBuf>,
    child: Child,
}

impl Prometheus {
    /// Starts Prometheus with `config` (a `prometheus.yml`) and `flags` (e.g.
    /// `--enable-feature=exemplar-storage`); waits until it is ready.
    pub async fn start(config: &str, flags: &[&str]) -> Prometheus {
        let dir = std::env::temp_dir().join(format!(
            "teei-obs-prometheus-{}-{}",
            std::process::id(),
            crate::otlp::free_port().port()
        ));
        std::fs::create_dir_all(&dir).expect("Prometheus directory");
        std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
        let mut prometheus = Prometheus::start_in(&dir, flags).await;
        prometheus.dir = Some(dir);
        prometheus
    }

    /// Starts Prometheus on `dir/prometheus.yml` (rule files relative to it), its data in
    /// `dir/data`; the directory stays the caller's.
    pub async fn start_in(dir: &std::path::Path, flags: &[&str]) -> Prometheus {
        let addr = crate::otlp::free_port();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus: install Debian's prometheus (scripts/test does)");
        let prometheus = Prometheus {
            addr,
            dir: None,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(ready) = crate::request(addr, "GET", "/-/ready").await
                && ready.status == 200
            {
                return prometheus;
            }
            assert!(Instant::now() < deadline, "Prometheus not ready in 15 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET path` of its API, as JSON.
    pub async fn api(&self, path: &str) -> serde_json::Value {
        let response = crate::request(self.addr, "GET", path)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", response.body))
    }

    /// An instant query's whole answer.
    pub async fn answer(&self, expr: &str) -> serde_json::Value {
        self.api(&format!("/api/v1/query?query={}", percent_encode(expr)))
            .await
    }

    /// An instant query's `data.result`.
    pub async fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let answer = self.answer(expr).await;
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{expr}: {answer}"))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `value` percent-encoded for a URL query.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
