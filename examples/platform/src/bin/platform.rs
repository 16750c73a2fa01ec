//! Starts the whole platform on 127.0.0.1: an embedded event broker (unless `NATS_URL`
//! names a NATS server) and the seven services, each its own process on its port
//! (3000–3006, or from `--base-port`/`PLATFORM_BASE_PORT`). Waits until every service
//! reports healthy, prints where they are, and stops them all on Ctrl-C or SIGTERM (or
//! after `--seconds N`), each draining as it would in Kubernetes.
//!
//! ```text
//! cargo run -p teei-platform [-- --seconds N] [-- --base-port P] [-- --console-port C] [-- --no-build]
//! cargo run -p teei-platform -- --generate-ops docs/generated/platform
//! ```
//!
//! The launcher serves one console for the seven (`http://127.0.0.1:3999/obs`, or
//! `--console-port`): the services send it their spans over OTLP/HTTP — it sets their
//! `OTEL_EXPORTER_OTLP_ENDPOINT` unless you did — so a request through three services is
//! one trace there, and it shows the health, functions and log lines of all seven.
//!
//! `--generate-ops DIR` starts nothing: it has every service write its Grafana dashboards,
//! provisioning and Prometheus alert rules under `DIR/<service>/`, and writes
//! `DIR/prometheus.yml`, a scrape configuration for the seven that loads their rules.
//!
//! Run through `cargo run`, it first builds the service binaries (`cargo build -p
//! teei-platform --bins`), which `cargo run` alone does not; `--no-build` skips that.
//! Environment variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `SENTRY_DSN`, `DATABASE_URL`,
//! `LOG_FORMAT`, …) are passed on to the services.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use teei_platform::broker::Broker;
use teei_platform::service::{self, BASE_PORT_VAR, Error, SERVICES};

/// `println!` that never panics: with its output piped into `head`, the launcher must still
/// live to stop the services.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` that never panics.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

struct Options {
    seconds: Option<u64>,
    base_port: Option<u16>,
    console_port: u16,
    build: bool,
    generate: Option<PathBuf>,
}

fn options() -> Result<Options, Error> {
    let mut options = Options {
        seconds: None,
        base_port: None,
        console_port: 3999,
        build: true,
        generate: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                let v = value("--seconds")?;
                options.seconds = Some(
                    v.parse()
                        .map_err(|_| format!("--seconds takes a whole number, not {v:?}"))?,
                );
            }
            "--base-port" => {
                let v = value("--base-port")?;
                options.base_port = Some(
                    v.parse()
                        .map_err(|_| format!("--base-port takes a port, not {v:?}"))?,
                );
            }
            "--console-port" => {
                let v = value("--console-port")?;
                options.console_port = v
                    .parse()
                    .map_err(|_| format!("--console-port takes a port, not {v:?}"))?;
            }
            "--no-build" => options.build = false,
            "--generate-ops" => options.generate = Some(value("--generate-ops")?.into()),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: platform [--seconds N] [--base-port P] [--console-port C] [--no-build] [--generate-ops DIR]"
                )
                .into());
            }
        }
    }
    Ok(options)
}

/// The directory of this binary, where cargo puts the service binaries too.
fn binaries(build: bool) -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or("the launcher has no directory")?
        .to_owned();
    if build && let Some(cargo) = std::env::var_os("CARGO") {
        let mut command = Command::new(cargo);
        command.args(["build", "--quiet", "-p", "teei-platform", "--bins"]);
        if dir.ends_with("release") {
            command.arg("--release");
        }
        tell!("platform: building the seven services (cargo build -p teei-platform --bins)");
        let status = command.status()?;
        if !status.success() {
            return Err(format!("building the services failed: {status}").into());
        }
    }
    for name in SERVICES {
        let path = dir
            .join(name)
            .with_extension(std::env::consts::EXE_EXTENSION);
        if !path.exists() {
            return Err(format!(
                "{} is missing: build the services with `cargo build -p teei-platform --bins`",
                path.display()
            )
            .into());
        }
    }
    Ok(dir)
}

/// Starts a service; its output lines go to ours (stdout to stdout, stderr to stderr),
/// each prefixed with the service's name, so seven interleaved logs stay readable.
fn spawn(dir: &Path, name: &str, base: u16, nats: &str, console: &str) -> Result<Child, Error> {
    let path = dir
        .join(name)
        .with_extension(std::env::consts::EXE_EXTENSION);
    let mut command = Command::new(&path);
    command
        .env(BASE_PORT_VAR, base.to_string())
        .env("NATS_URL", nats)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // Spans go to the platform console, unless the user named a collector.
    let unset = |name: &str| std::env::var_os(name).is_none();
    if unset("OTEL_EXPORTER_OTLP_ENDPOINT") && unset("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", console)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        if unset("OTEL_BSP_SCHEDULE_DELAY") {
            // A trace is on the console half a second after the request, not five.
            command.env("OTEL_BSP_SCHEDULE_DELAY", "500");
        }
    }
    // If the launcher dies without stopping them (killed, crashed), the services get
    // SIGTERM from the kernel instead of living on, orphaned, on their ports.
    // SAFETY: the closure runs in the forked child before exec and only calls `prctl`,
    // which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
    let prefix = format!("{name:>20} |");
    if let Some(out) = child.stdout.take() {
        let prefix = prefix.clone();
        std::thread::spawn(move || relay(out, &prefix, false));
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || relay(err, &prefix, true));
    }
    Ok(child)
}

/// Copies `from` line by line with `prefix`; ends with the child's output.
fn relay(from: impl std::io::Read, prefix: &str, to_stderr: bool) {
    use std::io::{BufRead, Write};
    let mut lines = std::io::BufReader::new(from);
    let mut line = Vec::new();
    while matches!(lines.read_until(b'\n', &mut line), Ok(n) if n > 0) {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let _ = if to_stderr {
            writeln!(std::io::stderr().lock(), "{prefix} {text}")
        } else {
            writeln!(std::io::stdout().lock(), "{prefix} {text}")
        };
        line.clear();
    }
}

/// Polls `url` until it answers 200 or `deadline` passes.
async fn wait_ok(client: &reqwest::Client, url: &str, deadline: Instant) -> Result<(), Error> {
    loop {
        let answer = client.get(url).send().await;
        match answer {
            Ok(response) if response.status().is_success() => return Ok(()),
            _ if Instant::now() >= deadline => {
                let why = match answer {
                    Ok(response) => format!("answered {}", response.status()),
                    Err(error) => error.to_string(),
                };
                return Err(format!("{url} not ready in time: {why}").into());
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `/health` of every service, until all say `healthy` or `deadline` passes.
async fn wait_healthy(
    client: &reqwest::Client,
    base: u16,
    deadline: Instant,
) -> Result<Vec<(String, String)>, Error> {
    loop {
        let mut statuses = Vec::new();
        for name in SERVICES {
            let status = match client.get(service::url(base, name, "/health")).send().await {
                Ok(response) => match response.bytes().await {
                    Ok(body) => serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["status"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| "unreadable".into()),
                    Err(error) => error.to_string(),
                },
                Err(error) => error.to_string(),
            };
            statuses.push((name.to_owned(), status));
        }
        if statuses.iter().all(|(_, status)| status == "healthy") || Instant::now() >= deadline {
            return Ok(statuses);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn terminate(children: &mut [(String, Child)]) -> bool {
    for (_, child) in children.iter() {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: `kill` has no memory-safety preconditions; the pid is our own child,
            // not yet reaped, so it cannot name another process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut clean = true;
    for (name, child) in children.iter_mut() {
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        tell!("platform: {name} exited with {status}");
                        clean = false;
                    }
                    break;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    tell!("platform: {name} did not stop in time; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    clean = false;
                    break;
                }
            }
        }
    }
    clean
}

/// Has every service write its operations files under `out/<service>`, and writes the
/// scrape configuration that ties them together.
fn generate(dir: &Path, out: &Path, base: u16) -> Result<(), Error> {
    for name in SERVICES {
        let path = dir
            .join(name)
            .with_extension(std::env::consts::EXE_EXTENSION);
        let output = Command::new(&path)
            .arg("--generate-ops")
            .arg(out.join(name))
            .env(BASE_PORT_VAR, base.to_string())
            // Read, never dialled, when generating.
            .env("NATS_URL", "nats://127.0.0.1:4222")
            .env_remove("DATABASE_URL")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{name} --generate-ops failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
    }
    std::fs::write(out.join("prometheus.yml"), scrape_config(base))?;
    // The platform as a whole in a cluster: the services' manifests and a collector.
    for file in teei_obs::ops::kubernetes::platform_files(
        &SERVICES,
        "http://tempo.observability:4318",
        10.0,
    ) {
        let path = out.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, file.contents)?;
    }
    say!(
        "platform: operations files of the seven services written under {}",
        out.display()
    );
    Ok(())
}

/// A Prometheus configuration scraping the seven services (job = service name, as the
/// generated rules and dashboards expect) and loading their generated rules.
fn scrape_config(base: u16) -> String {
    let mut config = String::from(
        "# Generated by `platform --generate-ops`: scrape the seven services and load their rules.\n\
         global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n\
         rule_files:\n",
    );
    for name in SERVICES {
        config.push_str(&format!("  - {name}/prometheus/rules.yml\n"));
    }
    config.push_str("scrape_configs:\n");
    for name in SERVICES {
        config.push_str(&format!(
            "  - job_name: {name}\n    static_configs:\n      - targets: [\"127.0.0.1:{}\"]\n",
            service::port(base, name)
        ));
    }
    config
}

/// Serves the platform console on `port`; returns its base URL.
async fn start_console(port: u16, base: u16) -> Result<String, Error> {
    let peers = SERVICES
        .iter()
        .map(|name| teei_obs::console::Peer {
            name: (*name).to_owned(),
            url: service::url(base, name, ""),
        })
        .collect();
    let console = teei_obs::console::Console::platform(
        teei_obs::redact::Redactor::default(),
        teei_obs::console::ConsoleLimits {
            traces: 1000,
            ..Default::default()
        },
        peers,
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            format!("the console cannot listen on 127.0.0.1:{port}: {e} (--console-port)")
        })?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, console.router()).await {
            tell!("platform: the console stopped: {error}");
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            tell!("platform: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Error> {
    let options = options()?;
    let base = match options.base_port {
        Some(port) => port,
        None => service::base_port()?,
    };
    let dir = binaries(options.build)?;
    if let Some(out) = &options.generate {
        return generate(&dir, out, base).map(|()| true);
    }
    let broker;
    let nats = match std::env::var("NATS_URL") {
        Ok(url) => url,
        Err(_) => {
            broker = Broker::start(0).await?;
            tell!("platform: embedded event broker on {}", broker.url());
            broker.url()
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let console_url = start_console(options.console_port, base).await?;

    let mut children: Vec<(String, Child)> = Vec::new();
    let started = Instant::now();
    // Downstream services first: the gateway checks them from its first second.
    let result = async {
        for name in &SERVICES[1..] {
            children.push((
                (*name).to_owned(),
                spawn(&dir, name, base, &nats, &console_url)?,
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for name in &SERVICES[1..] {
            wait_ok(
                &client,
                &service::url(base, name, "/health/startup"),
                deadline,
            )
            .await?;
        }
        children.push((
            SERVICES[0].to_owned(),
            spawn(&dir, SERVICES[0], base, &nats, &console_url)?,
        ));
        wait_ok(
            &client,
            &service::url(base, SERVICES[0], "/health/readiness"),
            deadline,
        )
        .await?;
        wait_healthy(&client, base, Instant::now() + Duration::from_secs(30)).await
    }
    .await;
    let statuses = match result {
        Ok(statuses) => statuses,
        Err(error) => {
            terminate(&mut children);
            return Err(error);
        }
    };
    say!(
        "\nplatform: started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (name, status) in &statuses {
        say!(
            "  {name:<22} {status:<10} {}  (/metrics, /health/{{liveness,readiness,startup}})",
            service::url(base, name, "")
        );
    }
    say!(
        "  {:<22} {:<10} {console_url}{}  (traces, functions, health, logs of all seven)",
        "console",
        "",
        teei_obs::console::PATH
    );
    let all_healthy = statuses.iter().all(|(_, status)| status == "healthy");
    say!(
        "platform: {}; try  curl -H 'X-Correlation-ID: demo-1' {}",
        if all_healthy {
            "every service reports healthy"
        } else {
            "NOT every service is healthy"
        },
        service::url(base, SERVICES[0], "/v1/profile/user123")
    );
    say!(
        "platform: then see its trace at {console_url}{}#/traces?q=demo-1",
        teei_obs::console::PATH
    );

    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            () = async {
                match options.seconds {
                    Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        Ok::<(), std::io::Error>(())
    };
    let watch = async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for (name, child) in children.iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return format!("{name} exited unexpectedly with {status}");
                }
            }
        }
    };
    let failure = tokio::select! {
        result = stop => { result?; None }
        failure = watch => Some(failure),
    };
    if let Some(failure) = &failure {
        tell!("platform: {failure}; stopping the others");
    }
    say!("platform: stopping");
    let clean = terminate(&mut children);
    say!("platform: stopped");
    Ok(all_healthy && clean && failure.is_none())
}
