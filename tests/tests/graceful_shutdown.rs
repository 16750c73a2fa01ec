//! SIGTERM to a running service: readiness 503 at once, an in-flight slow request still
//! completes, the process exits within drain + request + flush bound.

use std::process::Command;
use std::time::{Duration, Instant};

use teei_obs_tests::{request, spawn_listening};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flips_readiness_drains_and_exits_in_time() {
    let drain = Duration::from_millis(400);
    let mut command = Command::new(env!("CARGO_BIN_EXE_graceful"));
    command.arg(drain.as_millis().to_string());
    let (mut child, addr, mut stdout) = spawn_listening(command);
    assert_eq!(
        request(addr, "GET", "/health/readiness")
            .await
            .unwrap()
            .status,
        200
    );

    let in_flight = tokio::spawn(async move { request(addr, "GET", "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Readiness flips at once (the first answer after the signal is handled).
    let mut flipped = None;
    while signalled.elapsed() < drain {
        let readiness = request(addr, "GET", "/health/readiness").await.unwrap();
        if readiness.status == 503 {
            flipped = Some(signalled.elapsed());
            let liveness = request(addr, "GET", "/health/liveness").await.unwrap();
            assert_eq!(
                liveness.status, 200,
                "liveness keeps answering while draining"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let flipped = flipped.expect("readiness did not turn 503 during the drain delay");
    println!("readiness 503 {flipped:?} after SIGTERM");
    assert!(flipped < Duration::from_millis(200), "{flipped:?}");

    let slow = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!((slow.status, slow.body.as_str()), (200, "done"));

    let bound = drain + Duration::from_secs(1) + Duration::from_secs(5);
    let exited = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some((status, started));
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .unwrap();
    let (status, _) = exited.expect("the process exited");
    assert!(status.success(), "{status:?}");
    let total = signalled.elapsed();
    println!("exited {total:?} after SIGTERM");
    assert!(total <= bound, "{total:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("exited cleanly"), "{rest}");
}
