//! A branch gateway killed with SIGKILL mid-call: every CDR it had committed
//! before the kill reaches the coordinator after the restart, exactly once, and
//! the calls the kill cut get their CDR when the box comes back, with the cause
//! `GatewayRestart`, exactly once (a further restart writes none again).

use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tandem_node::calls::{EndCause, Hangup};
use tandem_tests::{TestCoordinator, binary, eventually, init_logs};

/// Starts `tandem-sim node` for the gateway in `data`; its counter lines arrive on the channel.
fn node(data: &Path, calls_per_minute: f64) -> Result<(Child, mpsc::Receiver<(u64, u64)>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(binary("tandem-sim")?)
        .args(["node", "--data"])
        .arg(data)
        .arg("--board")
        .arg(root.join("board-configs/sim.toml"))
        .arg("--config")
        .arg(root.join("center-configs/demo.toml"))
        .args([
            "--calls-per-minute",
            &calls_per_minute.to_string(),
            "--talk",
            "2",
        ])
        .env(
            "RUST_LOG",
            std::env::var("CHILD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name)?.parse::<u64>().ok())
            };
            if let (Some(active), Some(cdrs)) = (field("calls_active="), field("cdrs_written="))
                && tx.send((active, cdrs)).is_err()
            {
                return;
            }
        }
    });
    Ok((child, rx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_killed_mid_call_loses_no_committed_cdr_and_duplicates_none() -> Result<()> {
    init_logs();
    let coordinator = TestCoordinator::start().await?;
    let c = coordinator.coordinator().clone();
    tokio::task::spawn_blocking(move || c.load_config(tandem_sim::world::DEMO_CONFIG)).await??;
    let (dir, _identity) = coordinator.enroll("bj-01").await?;

    let (mut child, counters) = node(dir.path(), 40.0)?;
    let start = Instant::now();
    let mut committed = 0;
    loop {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            bail!("no call in progress after 2 committed CDRs within 90 s (last: {committed})");
        }
        match counters.recv_timeout(Duration::from_millis(500)) {
            Ok((active, cdrs)) => {
                committed = cdrs;
                if cdrs >= 2 && active >= 1 {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("tandem-sim node exited"),
        }
    }
    child.kill()?; // SIGKILL, mid-call
    child.wait()?;
    // Whatever the process printed before dying was committed before it printed.
    while let Ok((_, cdrs)) = counters.try_recv() {
        committed = committed.max(cdrs);
    }

    let (mut child, _counters) = node(dir.path(), 0.001)?;
    let c = coordinator.coordinator().clone();
    let result = eventually(
        Duration::from_secs(60),
        "every committed CDR and the cut call's uploaded",
        || {
            let c = c.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let cdrs = c.cdrs();
                    cdrs.len() as u64 > committed
                        && cdrs.iter().any(|c| c.cause == EndCause::GatewayRestart)
                })
                .await
                .unwrap_or(false)
            }
        },
    )
    .await;
    // Let any duplicate upload land before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = coordinator.coordinator().clone();
    let cdrs = tokio::task::spawn_blocking(move || c.cdrs()).await?;
    child.kill()?;
    child.wait()?;
    result?;
    let ids: BTreeSet<_> = cdrs.iter().map(|c| c.call).collect();
    assert_eq!(ids.len(), cdrs.len(), "no CDR stored twice");
    let cut: Vec<_> = cdrs
        .iter()
        .filter(|c| c.cause == EndCause::GatewayRestart)
        .collect();
    assert!(
        cdrs.len() as u64 >= committed + cut.len() as u64,
        "{} stored, {committed} committed before the kill, {} cut",
        cdrs.len(),
        cut.len()
    );
    for c in &cut {
        assert_eq!(c.hangup, Hangup::System, "a cut call ends by the system");
        assert!(c.ended_us >= c.started_us);
        assert!(
            c.events.iter().all(|e| e.at_us <= c.ended_us),
            "a cut call ends at its last recorded fact"
        );
    }

    // Another restart (after another SIGKILL, with no call up) writes no cut
    // CDR again: each cut call has exactly one.
    let (mut child, _counters) = node(dir.path(), 0.001)?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c = coordinator.coordinator().clone();
    let again = tokio::task::spawn_blocking(move || c.cdrs()).await?;
    child.kill()?;
    child.wait()?;
    assert_eq!(again.len(), cdrs.len(), "no CDR written or stored again");
    Ok(())
}
