//! Bounded by construction, end to end: the real coordinator over real QUIC and
//! HTTP with real gateways. The longest valid values pass and reach the
//! gateways; over-long ones get 422 naming the field (or a clear error on the
//! admin socket and at the seat); no gateway drops its link on the way.

use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::time::Duration;
use tandem_coordinator::admin::{AdminRequest, AdminResponse};
use tandem_coordinator::events::Event;
use tandem_node::calls::{AgentCommand, CenterConfig};
use tandem_node::limits::{MAX_CONFIG_LIST, MAX_NUMBER};
use tandem_node::names::Site;
use tandem_node::routing::{AgentState, BlacklistAction, BlacklistRule, NumberPattern};
use tandem_sim::world::{DEMO_ACCOUNTS, World, WorldOptions};
use tandem_tests::{eventually, init_logs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LONG: Duration = Duration::from_secs(20);

/// One HTTP/1.1 request; returns the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<(u16, String)> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: tandem\r\nConnection: close\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body).await?;
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply).await?;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply.split_once("\r\n\r\n").context("no HTTP header end")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head}"))?;
    Ok((status, body.to_owned()))
}

async fn login(addr: SocketAddr, user: &str) -> Result<String> {
    let password = DEMO_ACCOUNTS
        .iter()
        .find(|a| a.0 == user)
        .context("no such demo account")?
        .1;
    let body = serde_json::json!({ "username": user, "password": password });
    let (status, reply) = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        body.to_string().as_bytes(),
    )
    .await?;
    if status != 200 {
        bail!("login {user}: {status} {reply}");
    }
    let reply: serde_json::Value = serde_json::from_str(&reply)?;
    Ok(reply["token"].as_str().context("no token")?.to_owned())
}

/// The `field` of a 422 answer.
fn field_of(status: u16, body: &str) -> Result<String> {
    if status != 422 {
        bail!("expected 422, got {status}: {body}");
    }
    let body: serde_json::Value = serde_json::from_str(body)?;
    Ok(body["field"].as_str().unwrap_or_default().to_owned())
}

fn blacklist(n: usize) -> Vec<BlacklistRule> {
    (0..n)
        .map(|i| BlacklistRule {
            pattern: NumberPattern::Exact(format!("+{}", 100_000_000 + i)),
            action: BlacklistAction::Reject,
        })
        .collect()
}

fn with_blacklist(config: &CenterConfig, n: usize) -> Result<String> {
    let mut config = config.clone();
    config.routing.blacklist = blacklist(n);
    Ok(toml::to_string(&config)?)
}

/// Every `NodeOffline` the coordinator published since `events` subscribed.
fn offline_events(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Result<Vec<String>> {
    use tokio::sync::broadcast::error::TryRecvError;
    let mut out = Vec::new();
    loop {
        match events.try_recv() {
            Ok(Event::NodeOffline { node, site }) => out.push(format!("{node} at {site}")),
            Ok(_) => {}
            Err(TryRecvError::Empty) => return Ok(out),
            Err(e) => bail!("the event stream was not read in full: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn longest_values_reach_the_gateways_and_longer_ones_get_422_without_cutting_a_link()
-> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let mut options = WorldOptions::demo(dir.path()).only(&["bj-01", "home-li"]);
    options.http = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let world = World::start(options).await?;
    world.put_accounts(&DEMO_ACCOUNTS).await?;
    let addr = world.running().http_addr().context("no HTTP")?;
    let mut events = world.coordinator().events().subscribe();
    world.login_ready(&[8]).await?;
    let (admin, li) = (login(addr, "admin").await?, login(addr, "li").await?);
    let bj = Site::new("bj-01")?;
    let dial = |number: String| {
        let command = AgentCommand::Dial {
            site: bj.clone(),
            number,
        };
        serde_json::to_vec(&command)
    };

    // An agent's Dial with a 300,000-digit number: refused by the API, at the
    // seat and by call control, naming the field.
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/agents/8/commands",
        Some(&li),
        &dial("9".repeat(300_000))?,
    )
    .await?;
    assert_eq!(field_of(status, &body)?, "Dial.number");
    let huge = AgentCommand::Dial {
        site: bj.clone(),
        number: "9".repeat(300_000),
    };
    let at_seat = world.agent(8, huge.clone()).unwrap_err().to_string();
    assert!(at_seat.contains("Dial.number"), "{at_seat}");
    let c = world.coordinator().clone();
    let refused = tokio::task::spawn_blocking(move || {
        c.agent_command(tandem_node::routing::AgentId(8), huge)
    })
    .await?
    .unwrap_err()
    .to_string();
    assert!(refused.contains("Dial.number"), "{refused}");

    // The longest valid number is dialled on a line of the branch.
    let longest = "8".repeat(MAX_NUMBER);
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/agents/8/commands",
        Some(&li),
        &dial(longest.clone())?,
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let exchange = world.node("bj-01")?.exchange.clone();
    let dialled = || {
        ["fxo1", "fxo2", "fxo3", "fxo4"]
            .into_iter()
            .find(|l| exchange.fxo(l).is_ok_and(|f| f.dialed() == longest))
    };
    eventually(LONG, "a branch line dials the longest number", || {
        let found = dialled().is_some();
        async move { found }
    })
    .await?;
    let line = dialled().context("the line forgot the number")?;
    exchange.fxo(line)?.answer()?;
    world
        .wait_agent(8, "talking", LONG, |v| v.call.is_some())
        .await?;
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/agents/8/commands",
        Some(&li),
        &serde_json::to_vec(&AgentCommand::Hangup)?,
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    world
        .wait_agent(8, "ready again", LONG, |v| {
            v.state == Some(AgentState::Ready) && v.call.is_none()
        })
        .await?;

    // A blacklist of 20,001 entries: 422 on the API, an error on the admin
    // socket, nothing stored or pushed.
    let config = world.config().config().clone();
    let before = world.coordinator().center_config().map(|(v, _)| v);
    let text = with_blacklist(&config, 20_001)?;
    let (status, body) = http(addr, "PUT", "/api/v1/config", Some(&admin), text.as_bytes()).await?;
    assert_eq!(field_of(status, &body)?, "routing.blacklist");
    let c = world.coordinator().clone();
    let answer =
        tokio::task::spawn_blocking(move || c.admin(AdminRequest::LoadConfig { text })).await?;
    match answer {
        AdminResponse::Error { message } => {
            assert!(message.contains("routing.blacklist"), "{message}")
        }
        other => bail!("the admin socket took the configuration: {other:?}"),
    }
    assert_eq!(world.coordinator().center_config().map(|(v, _)| v), before);

    // The longest valid blacklist is stored and reaches both gateways.
    let text = with_blacklist(&config, MAX_CONFIG_LIST)?;
    let (status, body) = http(addr, "PUT", "/api/v1/config", Some(&admin), text.as_bytes()).await?;
    assert_eq!(status, 200, "{body}");
    let version = serde_json::from_str::<serde_json::Value>(&body)?["version"]
        .as_u64()
        .context("no version")?;
    for site in ["bj-01", "home-li"] {
        let node = world.node(site)?;
        eventually(LONG, "the gateway caches the pushed blacklist", || {
            let cached = node.gateway.cached_config();
            async move {
                cached.is_some_and(|(v, c)| {
                    v == version && c.config().routing.blacklist.len() == MAX_CONFIG_LIST
                })
            }
        })
        .await
        .with_context(|| site.to_owned())?;
    }

    // No gateway dropped its link at any point.
    let dropped = offline_events(&mut events)?;
    assert!(dropped.is_empty(), "links dropped: {dropped:?}");
    assert_eq!(world.coordinator().registry().len(), 2);
    world.stop().await
}
