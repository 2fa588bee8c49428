//! The gateway's session with the coordinator: connect with the stored identity,
//! hello, heartbeats, and reconnect by itself after any outage.

use crate::enroll::{client_endpoint, resolve};
use crate::identity::{Identity, IdentityError};
use crate::media_link::{LegEvent, MediaLink};
use crate::outbox::Outbox;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Duration;
use tandem_node::inventory::Inventory;
use tandem_node::link::{Backoff, COORDINATOR_SERVER_NAME, ClockSync, LinkHealth, close, now_us};
use tandem_node::media::MediaTotals;
use tandem_node::proto::kind_name;
use tandem_node::proto::{
    GoodbyeReason, Heartbeat, Hello, Message, RejectReason, UploadRecord, capability,
};
use tandem_node_io::link::tls::is_revocation;
use tandem_node_io::link::{ControlStream, LinkError};
use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, timeout};

/// What the uplink is doing, for status displays and tests.
#[derive(Debug, Clone, PartialEq)]
pub enum UplinkState {
    /// Not connected; `attempt` counts failures since the last session.
    Connecting { attempt: u32 },
    /// Session up.
    Online { health: LinkHealth },
    /// The coordinator revoked this node; the uplink has stopped.
    Revoked,
    /// Stopped on request.
    Stopped,
}

/// Fatal uplink failures (everything else is retried).
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("this node was revoked by the coordinator; enroll again with a new token")]
    Revoked,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the uplink task failed: {0}")]
    Crashed(String),
}

/// What the uplink speaks for: this gateway's identity and inventory, and the
/// media and outbox it carries over the link.
pub struct Node {
    pub identity: Identity,
    pub inventory: Inventory,
    pub media: MediaLink,
    pub outbox: Outbox,
    pub calls: CallsLink,
}

/// The call engine's end of the link: configuration and commands in, call
/// events out (queued in `up` while the link is down), media totals reported.
pub struct CallsLink {
    pub(crate) engine: std::sync::mpsc::SyncSender<crate::calls::Cmd>,
    pub(crate) up: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<tandem_node::calls::CallUp>>,
    pub(crate) cache: crate::calls::config_cache::ConfigCache,
    pub(crate) stats: std::sync::Arc<crate::calls::Stats>,
}

impl CallsLink {
    /// A configuration push: validated, cached, then applied to new calls.
    async fn config(&self, push: tandem_node::calls::ConfigPush) {
        let cache = self.cache.clone();
        let version = push.version;
        match tokio::task::spawn_blocking(move || cache.store(&push)).await {
            Ok(Ok(Some(config))) => {
                tracing::info!(version, "new configuration cached");
                if self
                    .engine
                    .try_send(crate::calls::Cmd::Config(config))
                    .is_err()
                {
                    tracing::error!(version, "the call engine did not take the configuration");
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(err)) => tracing::error!(version, %err, "configuration refused"),
            Err(err) => tracing::error!(%err, "configuration task failed"),
        }
    }

    fn down(&self, down: tandem_node::calls::CallDown) {
        if let Err(err) = self.engine.try_send(crate::calls::Cmd::Down(down)) {
            tracing::error!(%err, "the call engine did not take a command");
        }
    }
}

/// How long to wait for the coordinator's welcome.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the media totals are reported (when they changed): often enough
/// for a Prometheus scrape interval, rare enough to cost nothing on the link.
const MEDIA_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Why one session ended.
enum SessionEnd {
    Stopped,
    Revoked,
    Lost(String),
}

/// Runs the uplink until stopped or revoked.
pub async fn run(
    node: Node,
    mut stop: watch::Receiver<bool>,
    state: watch::Sender<UplinkState>,
) -> Result<(), UplinkError> {
    let config = node.identity.client_config()?;
    let mut backoff = Backoff::gateway_default();
    let mut rng = StdRng::from_os_rng();
    let mut endpoint: Option<quinn::Endpoint> = None;
    let mut attempt = 0u32;
    loop {
        state.send_replace(UplinkState::Connecting { attempt });
        let end = tokio::select! {
            end = session(&node, &config, &mut endpoint, &state, &mut backoff) => end,
            _ = stop.wait_for(|s| *s) => SessionEnd::Stopped,
        };
        match end {
            SessionEnd::Stopped => {
                if let Some(ep) = endpoint {
                    ep.close(quinn::VarInt::from_u32(close::NORMAL), b"gateway stopping");
                    let _ = timeout(Duration::from_secs(1), ep.wait_idle()).await;
                }
                state.send_replace(UplinkState::Stopped);
                return Ok(());
            }
            SessionEnd::Revoked => {
                tracing::error!("the coordinator revoked this node; stopping the uplink");
                state.send_replace(UplinkState::Revoked);
                return Err(UplinkError::Revoked);
            }
            SessionEnd::Lost(reason) => {
                attempt += 1;
                let delay = backoff.next_delay(&mut rng);
                tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "coordinator link down");
                state.send_replace(UplinkState::Connecting { attempt });
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
        }
    }
}

async fn session(
    node: &Node,
    config: &quinn::ClientConfig,
    endpoint: &mut Option<quinn::Endpoint>,
    state: &watch::Sender<UplinkState>,
    backoff: &mut Backoff,
) -> SessionEnd {
    let media = &node.media;
    let addr = match resolve(&node.identity.coordinator).await {
        Ok(addr) => addr,
        Err(e) => return SessionEnd::Lost(e.to_string()),
    };
    let ep = match endpoint {
        Some(ep) => ep.clone(),
        None => match client_endpoint(addr) {
            Ok(ep) => endpoint.insert(ep).clone(),
            Err(e) => return SessionEnd::Lost(format!("cannot open a UDP socket: {e}")),
        },
    };
    let conn = match ep.connect_with(config.clone(), addr, COORDINATOR_SERVER_NAME) {
        Ok(connecting) => match connecting.await {
            Ok(conn) => conn,
            Err(e) if is_revocation(&e) => return SessionEnd::Revoked,
            Err(e) => return SessionEnd::Lost(format!("connect to {addr}: {e}")),
        },
        Err(e) => return SessionEnd::Lost(format!("connect to {addr}: {e}")),
    };
    media.connected(conn.clone());
    let receiver = tokio::spawn({
        let media = media.clone();
        let conn = conn.clone();
        async move { media.receive(conn).await }
    });
    let end = match established(node, &conn, state, backoff).await {
        Ok(never) => match never {},
        Err(end) => end,
    };
    media.disconnected();
    receiver.abort();
    if let SessionEnd::Lost(_) = &end
        && let Some(reason) = conn.close_reason()
        && is_revoked_close(&reason)
    {
        return SessionEnd::Revoked;
    }
    end
}

fn is_revoked_close(err: &quinn::ConnectionError) -> bool {
    match err {
        quinn::ConnectionError::ApplicationClosed(c) => {
            c.error_code == quinn::VarInt::from_u32(close::REVOKED)
        }
        other => is_revocation(other),
    }
}

async fn established(
    node: &Node,
    conn: &quinn::Connection,
    state: &watch::Sender<UplinkState>,
    backoff: &mut Backoff,
) -> Result<std::convert::Infallible, SessionEnd> {
    let Node {
        identity,
        inventory,
        media,
        outbox,
        calls,
    } = node;
    // One session at a time holds the queue of call events.
    let mut up = calls.up.lock().await;
    let lost = |e: LinkError| SessionEnd::Lost(e.to_string());
    let mut control = ControlStream::open(conn).await.map_err(lost)?;
    let hello = Hello {
        node_id: identity.node_id.clone(),
        site: identity.site.clone(),
        software_version: crate::VERSION.to_owned(),
        capabilities: capabilities(inventory),
        inventory: inventory.clone(),
    };
    control.send(&Message::Hello(hello)).await.map_err(lost)?;
    let welcome = timeout(WELCOME_TIMEOUT, control.recv_answering())
        .await
        .map_err(|_| SessionEnd::Lost("no welcome from the coordinator".to_owned()))?
        .map_err(lost)?;
    let welcome = match welcome.message {
        Message::Welcome(w) => w,
        Message::Goodbye(GoodbyeReason::Revoked) => return Err(SessionEnd::Revoked),
        other => {
            return Err(SessionEnd::Lost(format!(
                "expected Welcome, got {}",
                kind_name(&other)
            )));
        }
    };
    backoff.reset();
    tracing::info!(coordinator_version = %welcome.coordinator_version, "connected to the coordinator");
    let interval = Duration::from_millis(u64::from(welcome.heartbeat_interval_ms.max(100)));
    let mut beat = tokio::time::interval(interval);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut clock = ClockSync::new();
    let mut seq = 0u64;
    state.send_replace(UplinkState::Online {
        health: LinkHealth::default(),
    });
    let mut upload = Upload::default();
    let mut media_report = tokio::time::interval(MEDIA_REPORT_INTERVAL);
    media_report.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Per session: a new session (perhaps to a restarted coordinator) hears
    // the totals again.
    let mut media_reported = MediaTotals::default();
    loop {
        if let Some(records) = upload.next_batch(outbox).await {
            control
                .send(&Message::Upload { records })
                .await
                .map_err(lost)?;
        }
        tokio::select! {
            _ = outbox.appended(), if upload.is_idle() => upload.wanted = true,
            Some(msg) = up.recv() => {
                control.send(&Message::CallUp(msg)).await.map_err(lost)?;
            }
            received = control.recv() => {
                let Some(env) = control.triage(received).await.map_err(lost)? else {
                    continue;
                };
                let reply = match env.message {
                    Message::Heartbeat(hb) => Some(Message::HeartbeatAck(hb.ack(now_us()))),
                    Message::HeartbeatAck(ack) => {
                        if let Some(health) = clock.record(&ack, now_us()) {
                            tracing::debug!(rtt_us = health.rtt_us, offset_us = health.offset_us, "heartbeat");
                            state.send_replace(UplinkState::Online { health });
                        }
                        None
                    }
                    Message::Goodbye(GoodbyeReason::Revoked) => return Err(SessionEnd::Revoked),
                    Message::Goodbye(reason) => return Err(SessionEnd::Lost(format!("coordinator said goodbye: {reason}"))),
                    Message::LegOpen(open) => {
                        tracing::info!(leg = open.leg, call = %open.call, endpoint = %open.endpoint, "media leg open");
                        media.event(LegEvent::Opened(open));
                        None
                    }
                    Message::UploadAck { seqs } => {
                        upload.acknowledged(outbox, seqs).await;
                        None
                    }
                    Message::LegClose { leg } => {
                        tracing::info!(leg, "media leg closed");
                        media.event(LegEvent::Closed(tandem_node::media::LegId(leg)));
                        None
                    }
                    Message::Config(push) => {
                        calls.config(push).await;
                        None
                    }
                    Message::CallDown(down) => {
                        calls.down(down);
                        None
                    }
                    Message::Reject { request, reason } => {
                        tracing::warn!(request, %reason, "coordinator rejected a message");
                        None
                    }
                    other => Some(Message::Reject {
                        request: env.id,
                        reason: RejectReason::NotAllowed(format!("{} is not expected by a gateway", kind_name(&other))),
                    }),
                };
                if let Some(reply) = reply {
                    control.send(&reply).await.map_err(lost)?;
                }
            }
            _ = media_report.tick() => {
                let totals = calls.stats.media();
                if totals != media_reported {
                    control.send(&Message::MediaStats(totals)).await.map_err(lost)?;
                    tracing::debug!(
                        expected = totals.expected,
                        lost = totals.lost,
                        "media totals reported"
                    );
                    media_reported = totals;
                }
            }
            _ = beat.tick() => {
                upload.on_tick();
                seq += 1;
                control
                    .send(&Message::Heartbeat(Heartbeat { seq, sent_us: now_us() }))
                    .await
                    .map_err(lost)?;
            }
        }
    }
}

/// Records per upload batch, and their body bytes (well under the frame limit).
const UPLOAD_BATCH: usize = 256;
const UPLOAD_BATCH_BYTES: usize = 128 * 1024;

/// An unacknowledged batch is sent again after this long (idempotent at the
/// coordinator); a new session resends it at once.
const UPLOAD_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// Outbox upload state of one session: one batch in flight at a time.
struct Upload {
    in_flight: Option<(Vec<u64>, std::time::Instant)>,
    /// Whether the outbox may hold records not yet sent.
    wanted: bool,
}

impl Default for Upload {
    fn default() -> Self {
        // A new session first sends whatever the outbox holds.
        Self {
            in_flight: None,
            wanted: true,
        }
    }
}

impl Upload {
    fn is_idle(&self) -> bool {
        self.in_flight.is_none()
    }

    /// The next batch to send, if one is due.
    async fn next_batch(&mut self, outbox: &Outbox) -> Option<Vec<UploadRecord>> {
        if self.in_flight.is_some() || !self.wanted {
            return None;
        }
        self.wanted = false;
        let o = outbox.clone();
        let batch =
            tokio::task::spawn_blocking(move || o.pending(UPLOAD_BATCH, UPLOAD_BATCH_BYTES)).await;
        match batch {
            Ok(Ok(records)) if !records.is_empty() => {
                self.in_flight = Some((
                    records.iter().map(|r| r.seq).collect(),
                    std::time::Instant::now(),
                ));
                Some(records)
            }
            Ok(Ok(_)) => None,
            Ok(Err(err)) => {
                tracing::error!(%err, "cannot read the outbox");
                None
            }
            Err(err) => {
                tracing::error!(%err, "outbox read task failed");
                None
            }
        }
    }

    /// The coordinator stored `seqs`: they leave the outbox.
    async fn acknowledged(&mut self, outbox: &Outbox, seqs: Vec<u64>) {
        let o = outbox.clone();
        let count = seqs.len();
        match tokio::task::spawn_blocking(move || o.acknowledge(&seqs)).await {
            Ok(Ok(())) => tracing::debug!(count, "outbox records acknowledged"),
            Ok(Err(err)) => tracing::error!(%err, "cannot remove acknowledged records"),
            Err(err) => tracing::error!(%err, "outbox acknowledge task failed"),
        }
        self.in_flight = None;
        self.wanted = true;
    }

    /// Periodic check: retry a batch that was never acknowledged, and pick up
    /// records appended while a batch was in flight.
    fn on_tick(&mut self) {
        match &self.in_flight {
            Some((_, sent)) if sent.elapsed() >= UPLOAD_RETRY => {
                tracing::warn!("outbox batch not acknowledged; sending again");
                self.in_flight = None;
                self.wanted = true;
            }
            Some(_) => {}
            None => self.wanted = true,
        }
    }
}

fn capabilities(inventory: &Inventory) -> Vec<String> {
    let mut caps = vec![capability::MEDIA_DATAGRAMS.to_owned()];
    if !inventory.lines.is_empty() {
        caps.push(capability::LINES.to_owned());
    }
    if !inventory.seats.is_empty() {
        caps.push(capability::SEATS.to_owned());
    }
    caps
}
