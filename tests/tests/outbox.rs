//! Nothing is lost: gateway outbox records reach the coordinator exactly once,
//! online or after an outage, over real QUIC on loopback.

use anyhow::Result;
use std::time::Duration;
use tandem_coordinator::Coordinator;
use tandem_coordinator::server::ServeOptions;
use tandem_gateway::Gateway;
use tandem_gateway::outbox::Outbox;
use tandem_gateway::uplink::UplinkState;
use tandem_node::names::NodeId;
use tandem_node::proto::RecordKind;
use tandem_tests::*;

async fn append(outbox: &Outbox, from: u32, count: u32) -> Result<()> {
    let outbox = outbox.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        for i in from..from + count {
            outbox.append(RecordKind::Cdr, u64::from(i), i.to_be_bytes().to_vec())?;
        }
        Ok(())
    })
    .await?
}

/// Waits until the coordinator holds exactly `n` records of `node`, each body the
/// big-endian index it was written with, in order, without duplicates.
async fn stored_exactly(coordinator: &Coordinator, node: &NodeId, n: u32) -> Result<()> {
    let c = coordinator.clone();
    let node = node.clone();
    eventually(Duration::from_secs(15), "records stored", || {
        let got = c.store().uploads(&node).map(|v| v.len()).unwrap_or(0);
        async move { got >= n as usize }
    })
    .await?;
    let uploads = coordinator.store().uploads(&node)?;
    assert_eq!(uploads.len(), n as usize, "no duplicates");
    for (i, (seq, rec)) in uploads.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(rec.body, (i as u32).to_be_bytes().to_vec());
    }
    Ok(())
}

async fn wait_state(gateway: &Gateway, online: bool) -> Result<()> {
    let mut state = gateway.state();
    tokio::time::timeout(
        Duration::from_secs(15),
        state.wait_for(|s| matches!(s, UplinkState::Online { .. }) == online),
    )
    .await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_arrive_once_online_and_after_an_outage() -> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_udp_port()?).parse()?;
    let options = ServeOptions {
        listen: addr,
        http: None,
        http_tls: None,
    };
    let running = Coordinator::open(dir.path())?
        .serve(options.clone())
        .await?;
    let token = running
        .coordinator()
        .create_token(tandem_node::names::Site::new("bj-01")?, 600)?
        .encode();
    let gw_dir = tempfile::tempdir()?;
    let identity = {
        let store = tandem_gateway::identity::GatewayStore::open(gw_dir.path())?;
        tandem_gateway::enroll::enroll(&store, &addr.to_string(), &token, false).await?
    };
    let gateway = start_gateway(gw_dir.path(), &sim_board())?;
    wait_state(&gateway, true).await?;

    // Online: 300 records, more than one batch's worth of round trips.
    append(gateway.outbox(), 0, 300).await?;
    stored_exactly(running.coordinator(), &identity.node_id, 300).await?;
    let outbox = gateway.outbox().clone();
    eventually(Duration::from_secs(5), "outbox drained", || {
        let empty = outbox.is_empty().unwrap_or(false);
        async move { empty }
    })
    .await?;

    // The coordinator goes away; the branch keeps writing records.
    running.shutdown().await;
    wait_state(&gateway, false).await?;
    append(gateway.outbox(), 300, 100).await?;
    assert_eq!(gateway.outbox().len()?, 100, "held while the link is down");

    // Back on the same address: everything arrives, exactly once.
    let running = Coordinator::open(dir.path())?.serve(options).await?;
    wait_state(&gateway, true).await?;
    stored_exactly(running.coordinator(), &identity.node_id, 400).await?;
    let outbox = gateway.outbox().clone();
    eventually(
        Duration::from_secs(5),
        "outbox drained after the outage",
        || {
            let empty = outbox.is_empty().unwrap_or(false);
            async move { empty }
        },
    )
    .await?;
    gateway.stop().await?;
    running.shutdown().await;
    Ok(())
}
