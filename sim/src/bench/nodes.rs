//! Simulated nodes for the benchmarks: real enrolled identities, real mTLS QUIC
//! sessions speaking the real control protocol.

use anyhow::{Result, bail};
use std::path::Path;
use std::time::{Duration, Instant};
use tandem_coordinator::Coordinator;
use tandem_node::link::{COORDINATOR_SERVER_NAME, now_us};
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{EnrollRequest, EnrollResult, Heartbeat, Hello, Message};
use tandem_node_io::link::tls::enrolled_client_config;
use tandem_node_io::link::{ControlStream, NodeKey};
use tokio::sync::{mpsc, oneshot};

/// An enrolled node: identity and a client configuration presenting it.
pub struct Enrolled {
    pub node_id: NodeId,
    pub site: Site,
    pub config: quinn::ClientConfig,
}

/// Enrolls `n` nodes through the coordinator's real enrollment path (tokens,
/// CSRs, certificates), without the network.
pub fn enroll_all(dir: &Path, n: usize) -> Result<Vec<Enrolled>> {
    let coordinator = Coordinator::open(dir)?;
    let site = Site::new("bench")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let token = coordinator.create_token(site.clone(), 3600)?;
        let key = NodeKey::generate()?;
        let request = EnrollRequest {
            token: token.encode(),
            csr_der: key.csr_der()?,
            software_version: "bench".into(),
        };
        match coordinator.enroll(&request) {
            EnrollResult::Enrolled {
                node_id,
                site,
                cert_der,
                ca_der,
            } => out.push(Enrolled {
                node_id,
                site,
                config: enrolled_client_config(&ca_der, &cert_der, &key)?,
            }),
            EnrollResult::Refused(r) => bail!("enrollment refused: {r}"),
        }
    }
    Ok(out)
}

/// A connected simulated node: answers the coordinator's heartbeats and measures
/// round trips on request.
pub struct Pinger {
    pub conn: quinn::Connection,
    pub ping: mpsc::Sender<oneshot::Sender<Option<Duration>>>,
}

pub async fn connect(
    endpoint: &quinn::Endpoint,
    addr: std::net::SocketAddr,
    node: Enrolled,
) -> Result<(Pinger, Duration)> {
    let started = Instant::now();
    let conn = endpoint
        .connect_with(node.config, addr, COORDINATOR_SERVER_NAME)?
        .await?;
    let mut control = ControlStream::open(&conn).await?;
    control
        .send(&Message::Hello(Hello {
            node_id: node.node_id,
            site: node.site,
            software_version: "bench".into(),
            capabilities: vec![],
            inventory: Default::default(),
        }))
        .await?;
    match control.recv().await?.message {
        Message::Welcome(_) => {}
        other => bail!("expected Welcome, got {other:?}"),
    }
    let took = started.elapsed();
    let (ping, rx) = mpsc::channel(1);
    tokio::spawn(node_loop(control, rx));
    Ok((Pinger { conn, ping }, took))
}

async fn node_loop(
    mut control: ControlStream,
    mut pings: mpsc::Receiver<oneshot::Sender<Option<Duration>>>,
) {
    let mut seq = 0u64;
    let mut waiting: Option<(u64, Instant, oneshot::Sender<Option<Duration>>)> = None;
    loop {
        tokio::select! {
            received = control.recv() => {
                let Ok(env) = received else { return };
                match env.message {
                    Message::Heartbeat(hb) => {
                        let ack = Message::HeartbeatAck(hb.ack(now_us()));
                        if control.send(&ack).await.is_err() {
                            return;
                        }
                    }
                    Message::HeartbeatAck(ack) => {
                        if let Some((s, at, reply)) = waiting.take() {
                            if s == ack.seq {
                                let _ = reply.send(Some(at.elapsed()));
                            } else {
                                waiting = Some((s, at, reply));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Some(reply) = pings.recv(), if waiting.is_none() => {
                seq += 1;
                let at = Instant::now();
                let hb = Message::Heartbeat(Heartbeat { seq, sent_us: now_us() });
                if control.send(&hb).await.is_err() {
                    let _ = reply.send(None);
                    return;
                }
                waiting = Some((seq, at, reply));
            }
        }
    }
}
