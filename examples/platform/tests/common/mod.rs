//! What the platform tests share: starting the platform on free ports and stopping it.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
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

/// How many of the platform's output lines a test keeps for its failure report.
const KEPT_LINES: usize = 2_000;

/// The platform's output (the launcher's lines and the seven services' logs, which it
/// relays), kept in memory rather than printed as it comes: a failing test writes it to
/// standard error as it unwinds (see `Drop`; libtest shows the panic message itself in its
/// summary of failures), a passing one prints nothing. Printed live, several hundred lines
/// made the tests depend on whoever reads their output: behind a reader that falls behind
/// on a non-blocking pipe, `println!` panicked in the thread relaying the launcher's output
/// (reproduced here with a 4 KiB non-blocking pipe read late) and the test failed for want
/// of the launcher's verdict, with its panic message lost in the same pipe.
#[derive(Clone, Default)]
pub struct Output(std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>);

impl Output {
    fn keep(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Every kept line, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect()
    }

    /// Reads `from` line by line into the kept lines until it ends; the launcher's verdict
    /// line is also sent on `to`.
    fn read(&self, from: impl std::io::Read, to: std::sync::mpsc::Sender<String>) {
        let mut from = BufReader::new(from);
        let mut line = Vec::new();
        while matches!(from.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            if text.contains("every service reports healthy") || text.contains("NOT every") {
                let _ = to.send(text.clone());
            }
            self.keep(text);
            line.clear();
        }
    }
}

/// The running platform; stopped with SIGTERM (and killed if that fails) on drop.
pub struct Platform {
    child: Child,
    pub base: u16,
    /// The platform console's port (the one after the seven services').
    pub console: u16,
    /// What the launcher and the services printed so far.
    pub output: Output,
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
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the platform");
        // The launcher prints its verdict once every service answered `/health`.
        let output = Output::default();
        let (lines, verdict) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (out, err) = (output.clone(), output.clone());
        let to = lines.clone();
        std::thread::spawn(move || out.read(stdout, to));
        std::thread::spawn(move || err.read(stderr, lines));
        let platform = Platform {
            child,
            base,
            console: base + 7,
            output,
        };
        match verdict.recv_timeout(Duration::from_secs(90)) {
            Ok(line) => assert!(line.contains("every service reports healthy"), "{line}"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the platform did not report within 90 s")
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the platform's output ended before its verdict")
            }
        }
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
        if std::thread::panicking() {
            // The test failed: its panic message is above; what the platform said follows.
            // Written with errors ignored: a second panic here would abort the test binary.
            use std::io::Write as _;
            let lines = self.output.lines();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "---- the platform's output ({} lines) ----",
                lines.len()
            );
            for line in lines {
                let _ = writeln!(err, "{line}");
            }
            let _ = writeln!(err, "---- end of the platform's output ----");
        }
    }
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
