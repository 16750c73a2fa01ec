//! What the platform tests share: starting the platform on free ports and stopping it.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use teei_platform::service::SERVICES;

/// Eight consecutive free ports on 127.0.0.1 (checked by binding them all): the seven
/// services' and the platform console's.
pub fn free_base_port() -> u16 {
    // Tests of one binary run in parallel: each call starts from a different candidate.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for attempt in 0..200u32 {
        // Below the kernel's ephemeral range (32768 up by default): a port another test
        // took with `bind(0)` and released for its own server cannot be chosen here.
        let base =
            10_000 + ((std::process::id() * 7 + (call * 200 + attempt) * 97) % 22_000) as u16;
        let all_free = (0..8).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no eight consecutive free ports");
}

/// The running platform; stopped with SIGTERM (and killed if that fails) on drop.
pub struct Platform {
    child: Child,
    pub base: u16,
    /// The platform console's port (the one after the seven services').
    pub console: u16,
}

impl Platform {
    pub fn start(envs: &[(&str, String)]) -> Platform {
        let base = free_base_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_platform"));
        command
            .args([
                "--no-build",
                "--base-port",
                &base.to_string(),
                "--seconds",
                "300",
                "--console-port",
                &(base + 7).to_string(),
            ])
            .env_remove("NATS_URL")
            .env_remove("DATABASE_URL")
            .env_remove("SENTRY_DSN")
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the platform");
        // The launcher prints its verdict once every service answered `/health`.
        let stdout = child.stdout.take().expect("stdout");
        let (lines, verdict) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                if line.contains("every service reports healthy") || line.contains("NOT every") {
                    let _ = lines.send(line);
                }
            }
        });
        let line = verdict
            .recv_timeout(Duration::from_secs(90))
            .expect("the platform did not report within 90 s");
        let platform = Platform {
            child,
            base,
            console: base + 7,
        };
        assert!(line.contains("every service reports healthy"), "{line}");
        platform
    }

    pub fn addr(&self, service: &str) -> SocketAddr {
        let index = SERVICES.iter().position(|s| *s == service).unwrap();
        SocketAddr::from(([127, 0, 0, 1], self.base + index as u16))
    }

    /// SIGKILL to the launcher alone, then waits for it.
    pub fn kill_launcher(mut self) {
        signal(&self.child, libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM, then the launcher's own exit status (it stops and waits for the seven).
    pub fn stop(mut self) -> std::process::ExitStatus {
        signal(&self.child, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the platform did not stop within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn signal(child: &Child, signal: i32) {
    // SAFETY: no memory-safety preconditions; the pid is our unreaped child.
    unsafe { libc::kill(child.id() as i32, signal) };
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(&self.child, libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(3));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
