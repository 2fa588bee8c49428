//! `tandem-sim web-fixture`: a small simulated center for browser tests.
//!
//! Starts a [`World`] of the demo's `bj-01` and `gz-01` with the HTTP API,
//! creates operator accounts (an administrator, a duty manager and agent 1's
//! account) and prints one JSON line with the URL and the credentials. Then it
//! reads commands on stdin, one per line, and answers each with one JSON line
//! (`{"ok":true,...}` or `{"ok":false,"error":"..."}`):
//!
//! - `call NUMBER [DIGIT]`: a caller rings the first idle FXO line of `bj-01`
//!   (`fxo1` first) with caller ID `NUMBER` and presses `DIGIT` at the menu;
//!   answered once the gateway has picked up the line.
//! - `hangup`: every connected caller on `bj-01` hangs up.
//! - `quit` (or end of input): stops the world and exits.

use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tandem_coordinator::accounts::Role;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::sim::Audio;
use tandem_hal::sim::line::{FxoState, HangUp, IncomingCall};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::world::{DemoAccount, World, WorldOptions};

/// The fixture's accounts: username, password, role, agent.
pub const ACCOUNTS: [DemoAccount; 3] = [
    ("ada", "admin-pass-1", Role::Admin, None),
    ("sun", "manager-pass-1", Role::DutyManager, Some(10)),
    ("zhang", "agent-pass-1", Role::Agent, Some(1)),
];

/// The branch whose lines the fixture's callers ring.
const SITE: &str = "bj-01";

/// How to run the fixture.
#[derive(Debug, Clone)]
pub struct FixtureOptions {
    /// HTTP address of the coordinator (port 0: any free port).
    pub http: SocketAddr,
    /// State directory; a fresh temporary one if `None`.
    pub data: Option<PathBuf>,
}

/// Runs the fixture until `quit` or the end of stdin.
pub async fn run(options: FixtureOptions) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let root = options.data.unwrap_or_else(|| temp.path().to_path_buf());
    let mut world_options = WorldOptions::demo(&root).only(&[SITE, "gz-01"]);
    world_options.http = Some(options.http);
    let world = World::start(world_options).await?;
    let http = world
        .running()
        .http_addr()
        .context("the coordinator serves no HTTP")?;

    world.put_accounts(&ACCOUNTS).await?;
    let mut accounts = serde_json::Map::new();
    for (user, password, role, agent) in ACCOUNTS {
        accounts.insert(
            format!("{role}"),
            serde_json::json!({ "username": user, "password": password, "agent": agent }),
        );
    }
    let accounts = serde_json::Value::Object(accounts);
    println!(
        "{}",
        serde_json::json!({ "url": format!("http://{http}"), "accounts": accounts })
    );

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            [] => continue,
            ["quit"] => break,
            ["call", number, rest @ ..] => call(&world, number, rest.first().copied())
                .await
                .map(|line| serde_json::json!({ "ok": true, "line": line })),
            ["hangup"] => hangup(&world).map(|n| serde_json::json!({ "ok": true, "hung_up": n })),
            _ => Err(anyhow::anyhow!("unknown command {line:?}")),
        };
        let reply =
            reply.unwrap_or_else(|e| serde_json::json!({ "ok": false, "error": format!("{e:#}") }));
        println!("{reply}");
    }
    // A test may have revoked nodes (schemathesis does): their gateways stop
    // with an error, which is no failure of the fixture.
    if let Err(err) = world.stop().await {
        tracing::warn!(%err, "stopping the world");
    }
    Ok(())
}

/// A caller rings the first idle line of the branch and presses `digit`.
async fn call(world: &World, number: &str, digit: Option<&str>) -> Result<String> {
    let exchange = &world.node(SITE)?.exchange;
    let (id, fxo) = (1..=4)
        .map(|i| format!("fxo{i}"))
        .find_map(|id| {
            let fxo = exchange.fxo(&id).ok()?;
            (fxo.state() == FxoState::Idle).then_some((id, fxo))
        })
        .context("no idle line")?;
    fxo.place_call(IncomingCall::from_number(number)?)?;
    let start = Instant::now();
    while fxo.state() != FxoState::Connected {
        if start.elapsed() > Duration::from_secs(15) {
            bail!("the gateway did not answer {id}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(digits) = digit {
        fxo.play(Audio::Silence { ms: 200 })?;
        fxo.play(Audio::Dtmf {
            digits: digits.to_owned(),
            timing: DtmfTiming::default(),
        })?;
    }
    Ok(id)
}

/// Every connected caller of the branch hangs up; returns how many.
fn hangup(world: &World) -> Result<usize> {
    let exchange = &world.node(SITE)?.exchange;
    let mut n = 0;
    for i in 1..=4 {
        let fxo = exchange.fxo(&format!("fxo{i}"))?;
        if fxo.state() == FxoState::Connected {
            fxo.hang_up(HangUp::LoopBreak { ms: 600 })?;
            n += 1;
        }
    }
    Ok(n)
}
