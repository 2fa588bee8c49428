//! Federation link end to end: enrollment, sessions, reconnection, revocation and
//! misbehaving peers, over real QUIC on loopback.

use anyhow::Result;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tandem_gateway::Gateway;
use tandem_gateway::enroll::EnrollError;
use tandem_gateway::identity::GatewayStore;
use tandem_gateway::uplink::{UplinkError, UplinkState};
use tandem_node::link::{COORDINATOR_SERVER_NAME, close};
use tandem_node::proto::{
    self, EnrollRefusal, EnrollRequest, EnrollResult, Hello, KNOWN_KINDS, Message, RejectReason,
};
use tandem_node_io::link::tls::{enrolled_client_config, enrollment_client_config};
use tandem_node_io::link::{ControlStream, NodeKey};
use tandem_tests::*;

fn online(state: &UplinkState) -> bool {
    matches!(state, UplinkState::Online { .. })
}

async fn wait_online(gateway: &Gateway, limit: Duration) -> Result<Duration> {
    let state = gateway.state();
    eventually(limit, "gateway online", || {
        let s = state.borrow().clone();
        async move { online(&s) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_connect_list_and_reconnect_with_stored_identity() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    let (dir, identity) = coord.enroll("bj-01").await?;
    assert_eq!(identity.site.as_str(), "bj-01");
    assert!(identity.node_id.as_str().starts_with("bj-01-"));

    let mut events = coord.coordinator().events().subscribe();
    let gateway = start_gateway(dir.path(), &sim_board())?;
    wait_online(&gateway, Duration::from_secs(5)).await?;
    let online_event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await??;
    assert_eq!(
        online_event,
        tandem_coordinator::events::Event::NodeOnline {
            node: identity.node_id.clone(),
            site: identity.site.clone()
        }
    );
    let views = coord.coordinator().node_views()?;
    assert_eq!(views.len(), 1);
    let view = &views[0];
    assert!(view.online && !view.revoked);
    assert_eq!(view.node_id, identity.node_id);
    assert_eq!(
        view.software_version.as_deref(),
        Some(tandem_gateway::VERSION)
    );
    assert_eq!(
        view.inventory.summary(),
        "4 FXO, 2 FXS, 1 E1 (30 ts), 2 seats"
    );
    assert!(
        view.address
            .as_deref()
            .is_some_and(|a| a.starts_with("127.0.0.1:"))
    );

    // Heartbeats give an RTT and clock-offset estimate on both ends.
    let c = coord.coordinator().clone();
    let id = identity.node_id.clone();
    eventually(Duration::from_secs(6), "coordinator clock sample", || {
        let v = c.node_views().unwrap_or_default();
        let id = id.clone();
        async move {
            v.iter()
                .any(|n| n.node_id == id && n.clock_offset_ms.is_some())
        }
    })
    .await?;
    let offset = coord.coordinator().node_views()?[0]
        .clock_offset_ms
        .unwrap_or(f64::MAX);
    assert!(
        offset.abs() < 50.0,
        "same host clocks differ by {offset} ms"
    );
    let state = gateway.state();
    eventually(Duration::from_secs(6), "gateway RTT sample", || {
        let s = state.borrow().clone();
        async move { matches!(s, UplinkState::Online { health } if health.samples > 0 && health.rtt_us < 50_000) }
    })
    .await?;

    // Restart: the stored identity is enough, no token needed.
    gateway.stop().await?;
    eventually(Duration::from_secs(5), "node offline after stop", || {
        let online = coord
            .coordinator()
            .registry()
            .get(&identity.node_id)
            .is_some();
        async move { !online }
    })
    .await?;
    let offline_event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await??;
    assert!(
        matches!(
            offline_event,
            tandem_coordinator::events::Event::NodeOffline { .. }
        ),
        "{offline_event:?}"
    );
    let gateway = start_gateway(dir.path(), &sim_board())?;
    wait_online(&gateway, Duration::from_secs(5)).await?;
    assert!(coord.coordinator().node_views()?[0].online);
    gateway.stop().await?;
    coord.running.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_expired_reused_and_foreign_tokens_are_refused() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    let other = TestCoordinator::start().await?;
    let dir = tempfile::tempdir()?;
    let store = GatewayStore::open(dir.path())?;
    let addr = coord.addr();
    let enroll = |token: String| {
        let addr = addr.clone();
        let store = &store;
        async move { tandem_gateway::enroll::enroll(store, &addr, &token, false).await }
    };

    // Not a token at all.
    let err = enroll("hello".into()).await.unwrap_err();
    assert!(matches!(err, EnrollError::Token(_)), "{err}");

    // Right shape, wrong secret: forged.
    let mut forged = tandem_node::link::EnrollToken::parse(&coord.token("bj-01"))?;
    forged.secret[0] ^= 0xff;
    let err = enroll(forged.encode()).await.unwrap_err();
    assert!(
        matches!(err, EnrollError::Refused(EnrollRefusal::Unknown)),
        "{err}"
    );

    // From another coordinator: the pinned CA does not match, refused at the handshake.
    let err = enroll(other.token("bj-01")).await.unwrap_err();
    assert!(
        err.to_string().contains("cannot reach the coordinator"),
        "{err}"
    );
    assert!(format!("{err:?}").contains("fingerprint"), "{err:?}");

    // Reused: the second box is refused, the first keeps its identity.
    let token = coord.token("bj-01");
    let first = enroll(token.clone()).await?;
    let dir2 = tempfile::tempdir()?;
    let store2 = GatewayStore::open(dir2.path())?;
    let err = tandem_gateway::enroll::enroll(&store2, &addr, &token, false)
        .await
        .unwrap_err();
    match err {
        EnrollError::Refused(EnrollRefusal::AlreadyUsed { node_id }) => {
            assert_eq!(node_id, first.node_id)
        }
        other => panic!("expected AlreadyUsed, got {other}"),
    }
    // Enrolling an enrolled box again needs --force.
    let err = enroll(coord.token("bj-01")).await.unwrap_err();
    assert!(matches!(err, EnrollError::AlreadyEnrolled(_)), "{err}");

    // Expired: the gateway says so before dialing; the coordinator also refuses a
    // stale request that reaches it.
    let expired = coord
        .coordinator()
        .create_token(tandem_node::names::Site::new("bj-01")?, 0)?;
    let err = enroll(expired.encode()).await.unwrap_err();
    assert!(matches!(err, EnrollError::Expired(_)), "{err}");
    let result = raw_enroll(&coord, &expired).await?;
    assert!(
        matches!(result, EnrollResult::Refused(EnrollRefusal::Expired { .. })),
        "{result:?}"
    );
    other.running.shutdown().await;
    coord.running.shutdown().await;
    Ok(())
}

/// Sends an enrollment request without the gateway's own checks.
async fn raw_enroll(
    coord: &TestCoordinator,
    token: &tandem_node::link::EnrollToken,
) -> Result<EnrollResult> {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let conn = endpoint
        .connect_with(
            enrollment_client_config(token.ca_fingerprint)?,
            coord.addr().parse()?,
            COORDINATOR_SERVER_NAME,
        )?
        .await?;
    let mut control = ControlStream::open(&conn).await?;
    let key = NodeKey::generate()?;
    control
        .send(&Message::EnrollRequest(EnrollRequest {
            token: token.encode(),
            csr_der: key.csr_der()?,
            software_version: "test".into(),
        }))
        .await?;
    match control.recv().await?.message {
        Message::EnrollResult(r) => Ok(r),
        other => anyhow::bail!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_from_another_ca_is_refused_at_the_handshake() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    let other = TestCoordinator::start().await?;
    let (_dir, foreign) = other.enroll("sh-01").await?;
    // Trusts the right server CA but presents a certificate from the other CA.
    let key = NodeKey::from_pem(&foreign.key_pem)?;
    let config =
        enrolled_client_config(coord.coordinator().ca().cert_der(), &foreign.cert_der, &key)?;
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let result = async {
        let conn = endpoint
            .connect_with(config, coord.addr().parse()?, COORDINATOR_SERVER_NAME)?
            .await?;
        // With TLS 1.3 the client may finish before the server rejects its
        // certificate; the rejection then arrives as the connection closing.
        let mut control = ControlStream::open(&conn).await?;
        control.send(&Message::Hello(hello(&foreign))).await?;
        control.recv().await?;
        anyhow::Ok(())
    }
    .await;
    assert!(
        result.is_err(),
        "a foreign certificate must not get a session"
    );
    assert!(coord.coordinator().registry().is_empty());
    other.running.shutdown().await;
    coord.running.shutdown().await;
    Ok(())
}

fn hello(identity: &tandem_gateway::identity::Identity) -> Hello {
    Hello {
        node_id: identity.node_id.clone(),
        site: identity.site.clone(),
        software_version: "test".into(),
        capabilities: vec![],
        inventory: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_node_is_kicked_at_once_and_refused_afterwards() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    let (dir, identity) = coord.enroll("gz-01").await?;
    let (other_dir, _) = coord.enroll("gz-01").await?;
    let mut gateway = start_gateway(dir.path(), &sim_board())?;
    let bystander = start_gateway(other_dir.path(), &sim_board())?;
    wait_online(&gateway, Duration::from_secs(5)).await?;
    wait_online(&bystander, Duration::from_secs(5)).await?;

    let (_, was_online) = coord.coordinator().revoke(&identity.node_id)?;
    assert!(was_online);
    let ended = tokio::time::timeout(Duration::from_secs(2), gateway.finished()).await?;
    assert!(matches!(ended, Err(UplinkError::Revoked)), "{ended:?}");
    assert_eq!(*gateway.state().borrow(), UplinkState::Revoked);

    // Restarting the revoked box: refused at the handshake, it stops by itself.
    drop(gateway); // the data directory admits one running gateway
    let mut again = start_gateway(dir.path(), &sim_board())?;
    let ended = tokio::time::timeout(Duration::from_secs(5), again.finished()).await?;
    assert!(matches!(ended, Err(UplinkError::Revoked)), "{ended:?}");
    assert!(
        coord
            .coordinator()
            .registry()
            .get(&identity.node_id)
            .is_none()
    );

    // The revocation survives a coordinator restart.
    let dir_path = coord.dir.path().to_path_buf();
    coord.running.shutdown().await;
    let running = serve(&dir_path).await?;
    assert!(
        running
            .coordinator()
            .revocations()
            .contains(&identity.node_id)
    );
    let views = running.coordinator().node_views()?;
    assert!(
        views
            .iter()
            .any(|v| v.node_id == identity.node_id && v.revoked)
    );
    assert!(online(&bystander.state().borrow()) || !views.is_empty());
    bystander.stop().await?;
    running.shutdown().await;
    Ok(())
}

/// Connects with a real node identity and returns the control stream after hello.
async fn session_as(
    coord: &TestCoordinator,
    identity: &tandem_gateway::identity::Identity,
) -> Result<(quinn::Endpoint, quinn::Connection, ControlStream)> {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let conn = endpoint
        .connect_with(
            identity.client_config()?,
            coord.addr().parse()?,
            COORDINATOR_SERVER_NAME,
        )?
        .await?;
    let mut control = ControlStream::open(&conn).await?;
    control.send(&Message::Hello(hello(identity))).await?;
    let welcome = control.recv().await?;
    assert!(
        matches!(welcome.message, Message::Welcome(_)),
        "{welcome:?}"
    );
    Ok((endpoint, conn, control))
}

async fn expect_dropped(conn: &quinn::Connection) -> Result<()> {
    let reason = tokio::time::timeout(Duration::from_secs(3), conn.closed()).await?;
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(
                c.error_code,
                quinn::VarInt::from_u32(close::PROTOCOL_VIOLATION)
            );
            assert!(!c.reason.is_empty(), "the close names the reason");
        }
        other => anyhow::bail!("expected an application close, got {other}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_frames_drop_only_that_peer() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    let mut gateways = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let (dir, _) = coord.enroll("cd-01").await?;
        let gateway = start_gateway(dir.path(), &sim_board())?;
        wait_online(&gateway, Duration::from_secs(5)).await?;
        gateways.push(gateway);
        dirs.push(dir);
    }
    let (_bad_dir, bad) = coord.enroll("cd-01").await?;

    // Garbage that is not a frame header we accept (length 0xFFFFFFFF).
    let (_ep, conn, mut control) = session_as(&coord, &bad).await?;
    control.send_raw(&[0xff; 64]).await?;
    expect_dropped(&conn).await?;

    // An oversized frame announced by a well-formed header.
    let (_ep, conn, mut control) = session_as(&coord, &bad).await?;
    let len = (proto::MAX_FRAME as u32 + 1).to_be_bytes();
    control.send_raw(&len).await?;
    expect_dropped(&conn).await?;

    // A frame of the right size holding garbage.
    let (_ep, conn, mut control) = session_as(&coord, &bad).await?;
    let mut frame = 6u32.to_be_bytes().to_vec();
    frame.extend([0, 1, 0xff, 0xff, 0xff, 0xff]);
    control.send_raw(&frame).await?;
    expect_dropped(&conn).await?;

    // Garbage instead of a hello.
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let conn = endpoint
        .connect_with(
            bad.client_config()?,
            coord.addr().parse()?,
            COORDINATOR_SERVER_NAME,
        )?
        .await?;
    let mut raw = ControlStream::open(&conn).await?;
    raw.send_raw(b"GET / HTTP/1.1\r\n\r\n").await?;
    expect_dropped(&conn).await?;

    // The well-behaved gateways never noticed.
    for g in &gateways {
        assert!(online(&g.state().borrow()));
    }
    let online_ids = coord.coordinator().registry().ids();
    assert_eq!(online_ids.len(), 2);
    assert!(!online_ids.contains(&bad.node_id));
    for g in gateways {
        g.stop().await?;
    }
    coord.running.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_peers_get_typed_answers_not_disconnects() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    let (_dir, identity) = coord.enroll("wh-01").await?;
    let (_ep, conn, mut control) = session_as(&coord, &identity).await?;
    // Media rides QUIC datagrams on the same connection: they must be negotiated.
    assert!(conn.max_datagram_size().is_some_and(|size| size >= 1000));

    // A message kind from the future: rejected by id, session continues.
    let mut payload = proto::PROTOCOL_VERSION.to_be_bytes().to_vec();
    payload.extend(postcard_bytes(77, KNOWN_KINDS + 5));
    control.send_raw(&proto::encode_frame(&payload)?).await?;
    let answer = next_non_heartbeat(&mut control).await?;
    assert_eq!(
        answer,
        Message::Reject {
            request: 77,
            reason: RejectReason::UnknownMessage {
                kind: KNOWN_KINDS + 5
            }
        }
    );
    assert!(
        coord
            .coordinator()
            .registry()
            .get(&identity.node_id)
            .is_some()
    );

    // A protocol version from the future: told our range, then closed.
    let mut payload = (proto::PROTOCOL_VERSION + 1).to_be_bytes().to_vec();
    payload.extend([1, 4]);
    control.send_raw(&proto::encode_frame(&payload)?).await?;
    let answer = next_non_heartbeat(&mut control).await?;
    assert_eq!(
        answer,
        Message::VersionUnsupported {
            min: proto::MIN_PROTOCOL_VERSION,
            max: proto::PROTOCOL_VERSION
        }
    );
    expect_dropped(&conn).await?;
    coord.running.shutdown().await;
    Ok(())
}

fn postcard_bytes(id: u64, kind: u32) -> Vec<u8> {
    // varint id, varint kind, then an opaque body
    let mut out = Vec::new();
    for mut v in [id, u64::from(kind)] {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out.extend(b"future");
    out
}

async fn next_non_heartbeat(control: &mut ControlStream) -> Result<Message> {
    loop {
        let env = tokio::time::timeout(Duration::from_secs(3), control.recv()).await??;
        if !matches!(env.message, Message::Heartbeat(_)) {
            return Ok(env.message);
        }
    }
}

/// Kills the child on drop so a failing test leaves no process behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_coordinator(data: &std::path::Path, port: u16) -> Result<Proc> {
    Ok(Proc(
        Command::new(binary("tandem-coordinator")?)
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    ))
}

fn cli(args: &[&str], data: &std::path::Path) -> Result<String> {
    let out = Command::new(binary("tandem-coordinator")?)
        .args(args)
        .arg("--data")
        .arg(data)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "tandem-coordinator {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn node_online_via_cli(data: &std::path::Path) -> bool {
    cli(&["nodes", "--json"], data)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
        .and_then(|n| n["online"].as_bool())
        .unwrap_or(false)
}

/// Real processes: the coordinator is killed with SIGKILL and restarted; the
/// gateway process comes back by itself. Admin commands go through the running
/// server's socket while it serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_process_survives_coordinator_kill_and_restart() -> Result<()> {
    init_logs();
    let coord_dir = tempfile::tempdir()?;
    let gw_dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let coordinator = spawn_coordinator(coord_dir.path(), port)?;
    let data = coord_dir.path().to_path_buf();
    eventually(Duration::from_secs(10), "admin socket up", || {
        let up = data.join("admin.sock").exists();
        async move { up }
    })
    .await?;
    // Token creation while serving goes through the admin socket.
    let token = cli(&["token", "create", "--site", "bj-02"], &data)?;
    let enroll = Command::new(binary("tandem-gateway")?)
        .args([
            "enroll",
            "--coordinator",
            &format!("127.0.0.1:{port}"),
            "--token",
            token.trim(),
            "--data",
        ])
        .arg(gw_dir.path())
        .output()?;
    assert!(
        enroll.status.success(),
        "{}",
        String::from_utf8_lossy(&enroll.stderr)
    );
    let _gateway = spawn_gateway(gw_dir.path())?;
    let d = data.clone();
    eventually(
        Duration::from_secs(10),
        "gateway listed online",
        move || {
            let up = node_online_via_cli(&d);
            async move { up }
        },
    )
    .await?;
    let table = cli(&["nodes"], &data)?;
    assert!(
        table.contains("bj-02-") && table.contains("online") && table.contains("4 FXO"),
        "{table}"
    );

    drop(coordinator); // SIGKILL
    let _ = std::fs::remove_file(data.join("admin.sock"));
    // Offline: the admin command opens the data directory itself.
    assert!(!node_online_via_cli(&data));
    let _restarted = spawn_coordinator(&data, port)?;
    let d = data.clone();
    let took = eventually(Duration::from_secs(10), "gateway back online", move || {
        let up = node_online_via_cli(&d);
        async move { up }
    })
    .await?;
    eprintln!("gateway back online {took:?} after the coordinator restarted");
    Ok(())
}

fn spawn_gateway(data: &std::path::Path) -> Result<Proc> {
    let board = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/sim.toml");
    Ok(Proc(
        Command::new(binary("tandem-gateway")?)
            .args(["run", "--data"])
            .arg(data)
            .arg("--board")
            .arg(&board)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    ))
}

/// A peer that vanishes without closing (SIGKILL, cable pulled) is noticed by the
/// other end within 5 s, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_links_are_noticed_within_five_seconds() -> Result<()> {
    init_logs();
    let limit = Duration::from_secs(5);

    // Gateway dies: the coordinator drops it from the online set.
    let coord = TestCoordinator::start().await?;
    let (gw_dir, identity) = coord.enroll("xa-01").await?;
    let gateway = spawn_gateway(gw_dir.path())?;
    let c = coord.coordinator().clone();
    let id = identity.node_id.clone();
    eventually(Duration::from_secs(10), "gateway process online", || {
        let up = c.registry().get(&id).is_some();
        async move { up }
    })
    .await?;
    drop(gateway); // SIGKILL: no close frame is sent
    let took = eventually(limit, "coordinator notices the dead gateway", || {
        let up = c.registry().get(&id).is_some();
        async move { !up }
    })
    .await?;
    eprintln!("coordinator noticed a dead gateway after {took:?}");

    // Coordinator dies: the gateway notices and starts reconnecting.
    let dir = coord.dir.path().to_path_buf();
    drop(c); // the database admits one opener: release ours for the process
    coord.running.shutdown().await;
    let port = free_udp_port()?;
    let process = spawn_coordinator(&dir, port)?;
    let store = GatewayStore::open(gw_dir.path())?;
    let mut moved = store
        .identity()?
        .ok_or_else(|| anyhow::anyhow!("no identity"))?;
    moved.coordinator = format!("127.0.0.1:{port}");
    store.save_identity(&moved)?;
    drop(store);
    let gateway = start_gateway(gw_dir.path(), &sim_board())?;
    wait_online(&gateway, Duration::from_secs(10)).await?;
    drop(process); // SIGKILL
    let state = gateway.state();
    let took = eventually(limit, "gateway notices the dead coordinator", || {
        let s = state.borrow().clone();
        async move { !online(&s) }
    })
    .await?;
    eprintln!("gateway noticed a dead coordinator after {took:?}");
    gateway.stop().await?;
    Ok(())
}
