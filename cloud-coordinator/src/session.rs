//! One gateway connection, from handshake to close.
//!
//! A connection without a client certificate may only enroll. A connection with a
//! node certificate (already checked against the CA and the revocation list during
//! the handshake) runs a session: hello, welcome, heartbeats both ways, until the
//! link dies, the node leaves, or an administrator revokes it.

use crate::events::Event;
use crate::registry::{OnlineNode, SESSION_COMMAND_QUEUE, SessionCommand};
use crate::server::Presence;
use crate::tls::identity_of;
use crate::{Coordinator, VERSION, now_secs};
use std::time::Duration;
use tandem_node::link::{ClockSync, close, now_us};
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::kind_name;
use tandem_node::proto::{GoodbyeReason, Heartbeat, Hello, Message, RejectReason, Welcome};
use tandem_node_io::link::{ControlStream, LinkError};
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, timeout};
use tracing::Instrument;

/// How often each side sends a heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// How long a closing session waits for its last message to be received.
const LAST_WORDS: Duration = Duration::from_millis(300);

/// Time a fresh connection has to say what it wants.
const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles an accepted connection until it ends.
pub async fn handle(coordinator: Coordinator, conn: quinn::Connection, presence: Presence) {
    let remote = conn.remote_address();
    let identity = conn
        .peer_identity()
        .and_then(|any| {
            any.downcast::<Vec<rustls_pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .and_then(|chain| chain.first().and_then(|c| identity_of(c)));
    match identity {
        None => {
            let span = tracing::info_span!("enroll", %remote);
            enroll(coordinator, conn).instrument(span).await
        }
        Some((node, site)) => {
            let span = tracing::info_span!("session", node = %node, site = %site, %remote);
            session(coordinator, conn, node, site, presence)
                .instrument(span)
                .await
        }
    }
}

async fn enroll(coordinator: Coordinator, conn: quinn::Connection) {
    let outcome: Result<(), LinkError> = async {
        let mut control = timeout(FIRST_MESSAGE_TIMEOUT, ControlStream::accept(&conn))
            .await
            .map_err(|_| LinkError::Timeout("the enrollment request"))??;
        let env = timeout(FIRST_MESSAGE_TIMEOUT, control.recv_answering())
            .await
            .map_err(|_| LinkError::Timeout("the enrollment request"))??;
        let Message::EnrollRequest(request) = env.message else {
            let reason = RejectReason::NotAllowed(
                "this connection has no node certificate: enroll first".to_owned(),
            );
            control
                .send(&Message::Reject {
                    request: env.id,
                    reason,
                })
                .await?;
            control.finish(LAST_WORDS).await;
            return Err(LinkError::Unexpected {
                expected: "EnrollRequest",
                got: kind_name(&env.message),
            });
        };
        let c = coordinator.clone();
        let result = tokio::task::spawn_blocking(move || c.enroll(&request))
            .await
            .map_err(|_| LinkError::Closed)?;
        if let tandem_node::proto::EnrollResult::Refused(refusal) = &result {
            tracing::warn!(%refusal, "enrollment refused");
        }
        control.send(&Message::EnrollResult(result)).await?;
        control.finish(LAST_WORDS).await;
        // Let the gateway read the answer and close; bounded.
        let _ = timeout(FIRST_MESSAGE_TIMEOUT, conn.closed()).await;
        Ok(())
    }
    .await;
    if let Err(err) = outcome {
        tracing::warn!(%err, "enrollment connection ended with an error");
        conn.close(
            quinn::VarInt::from_u32(close::PROTOCOL_VIOLATION),
            err.to_string().as_bytes(),
        );
    }
}

async fn session(
    coordinator: Coordinator,
    conn: quinn::Connection,
    node: NodeId,
    site: Site,
    presence: Presence,
) {
    let (mut control, hello) = match accept_hello(&conn, &node, &site).await {
        Ok(accepted) => accepted,
        Err(HelloFailure::Link(err)) => {
            tracing::info!(%err, "connection ended before the hello");
            return;
        }
        Err(HelloFailure::Misbehaved(control, reason)) => {
            drop_peer(&conn, control, reason).await;
            return;
        }
    };
    let registry = coordinator.registry();
    let session = registry.next_session();
    let (commands_tx, mut commands) = mpsc::channel(SESSION_COMMAND_QUEUE);
    let online = OnlineNode {
        session,
        site: hello.site.clone(),
        software_version: hello.software_version.clone(),
        address: conn.remote_address(),
        connected_at: now_secs(),
        inventory: hello.inventory.clone(),
        health: Default::default(),
        conn: conn.clone(),
        commands: commands_tx,
    };
    if let Some(old) = registry.insert(node.clone(), online) {
        tracing::info!("a new session replaces the previous one");
        let _ = old
            .commands
            .try_send(SessionCommand::Goodbye(GoodbyeReason::Replaced));
    }
    // Revocation may have landed between the handshake and the registration.
    if coordinator.revocations().contains(&node) {
        registry.remove(&node, session);
        say_goodbye(&conn, &mut control, GoodbyeReason::Revoked, close::REVOKED).await;
        return;
    }
    presence.online(&node, &hello, conn.remote_address());
    let events = coordinator.events();
    let (id, at) = (node.clone(), site.clone());
    events.publish(Event::NodeOnline { node: id, site: at });
    tracing::info!(version = %hello.software_version, inventory = %hello.inventory.summary(), "node online");
    let welcome = Message::Welcome(Welcome {
        coordinator_version: VERSION.to_owned(),
        heartbeat_interval_ms: HEARTBEAT_INTERVAL.as_millis() as u32,
        server_time_us: now_us(),
    });
    let media = tokio::spawn(crate::media::forward_datagrams(
        coordinator.clone(),
        conn.clone(),
        node.clone(),
    ));
    let ended = match control.send(&welcome).await {
        Ok(_) => {
            // Queued behind the welcome: the configuration, then call control.
            let c = coordinator.clone();
            let (n, s) = (node.clone(), site.clone());
            let _ = tokio::task::spawn_blocking(move || c.calls_node_online(&n, &s)).await;
            run(
                &conn,
                &mut control,
                &node,
                &site,
                session,
                &coordinator,
                &mut commands,
            )
            .await
        }
        Err(e) => Ended::Link(e),
    };
    media.abort();
    if registry.remove(&node, session) {
        coordinator.node_gone(&node);
        let c = coordinator.clone();
        let s = site.clone();
        let _ = tokio::task::spawn_blocking(move || c.calls_node_offline(&s)).await;
        let (id, at) = (node.clone(), site.clone());
        events.publish(Event::NodeOffline { node: id, site: at });
    }
    presence.offline(&node);
    match ended {
        Ended::Kicked(reason) => {
            let code = match reason {
                GoodbyeReason::Revoked => close::REVOKED,
                GoodbyeReason::Replaced => close::REPLACED,
                GoodbyeReason::ShuttingDown => close::SHUTTING_DOWN,
                GoodbyeReason::ProtocolViolation(_) => close::PROTOCOL_VIOLATION,
                GoodbyeReason::NodeStopping => close::NORMAL,
            };
            tracing::info!(%reason, "session ended by the coordinator");
            say_goodbye(&conn, &mut control, reason, code).await;
        }
        Ended::Left(reason) => tracing::info!(%reason, "node said goodbye"),
        Ended::Link(LinkError::Proto(err)) => {
            drop_peer(&conn, Some(control), err.to_string()).await
        }
        Ended::Link(err) => tracing::info!(%err, "node offline"),
    }
}

/// Why a session did not get past its hello.
enum HelloFailure {
    /// The connection went away: nothing to blame the peer for.
    Link(LinkError),
    /// The peer broke the protocol.
    Misbehaved(Option<ControlStream>, String),
}

async fn accept_hello(
    conn: &quinn::Connection,
    node: &NodeId,
    site: &Site,
) -> Result<(ControlStream, Hello), HelloFailure> {
    let mut control = timeout(FIRST_MESSAGE_TIMEOUT, ControlStream::accept(conn))
        .await
        .map_err(|_| HelloFailure::Misbehaved(None, "no control stream opened".to_owned()))?
        .map_err(HelloFailure::Link)?;
    let env = match timeout(FIRST_MESSAGE_TIMEOUT, control.recv_answering()).await {
        Ok(Ok(env)) => env,
        Ok(Err(LinkError::Proto(err))) => {
            return Err(HelloFailure::Misbehaved(Some(control), err.to_string()));
        }
        Ok(Err(err)) => return Err(HelloFailure::Link(err)),
        Err(_) => {
            return Err(HelloFailure::Misbehaved(
                Some(control),
                "no hello".to_owned(),
            ));
        }
    };
    let reason = match env.message {
        Message::Hello(hello) if hello.node_id == *node && hello.site == *site => {
            return Ok((control, hello));
        }
        Message::Hello(hello) => format!(
            "hello claims node {} at {} but the certificate is for {node} at {site}",
            hello.node_id, hello.site
        ),
        other => format!("expected Hello, got {}", kind_name(&other)),
    };
    Err(HelloFailure::Misbehaved(Some(control), reason))
}

/// Ends the connection of a peer that broke the protocol, saying why in the log and
/// to the peer. Other sessions are untouched.
async fn drop_peer(conn: &quinn::Connection, control: Option<ControlStream>, reason: String) {
    tracing::warn!(%reason, "dropping misbehaving peer");
    if let Some(mut control) = control {
        let goodbye = Message::Goodbye(GoodbyeReason::ProtocolViolation(reason.clone()));
        let _ = timeout(LAST_WORDS, control.send(&goodbye)).await;
        control.finish(LAST_WORDS).await;
    }
    conn.close(
        quinn::VarInt::from_u32(close::PROTOCOL_VIOLATION),
        reason.as_bytes(),
    );
}

enum Ended {
    Kicked(GoodbyeReason),
    Left(GoodbyeReason),
    Link(LinkError),
}

async fn run(
    conn: &quinn::Connection,
    control: &mut ControlStream,
    node: &NodeId,
    site: &Site,
    session: u64,
    coordinator: &Coordinator,
    commands: &mut mpsc::Receiver<SessionCommand>,
) -> Ended {
    let mut clock = ClockSync::new();
    let mut beat = tokio::time::interval(HEARTBEAT_INTERVAL);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            received = control.recv() => {
                let env = match control.triage(received).await {
                    Ok(Some(env)) => env,
                    Ok(None) => continue,
                    Err(e) => return Ended::Link(e),
                };
                let reply = match env.message {
                    Message::Heartbeat(hb) => Some(Message::HeartbeatAck(hb.ack(now_us()))),
                    Message::HeartbeatAck(ack) => {
                        if let Some(health) = clock.record(&ack, now_us()) {
                            coordinator.registry().set_health(node, session, health);
                        }
                        None
                    }
                    Message::Goodbye(reason) => return Ended::Left(reason),
                    Message::Upload { records } => {
                        let c = coordinator.clone();
                        let who = node.clone();
                        let stored = tokio::task::spawn_blocking(move || {
                            let ingested = c.store().ingest(&who, &records, now_us())?;
                            c.uploads_stored(&records, &ingested.fresh);
                            Ok::<_, crate::store::StoreError>(ingested.acked)
                        })
                        .await;
                        match stored {
                            Ok(Ok(seqs)) => Some(Message::UploadAck { seqs }),
                            Ok(Err(err)) => {
                                // Not acknowledged: the gateway keeps the records and retries.
                                tracing::error!(%err, "could not store uploaded records");
                                None
                            }
                            Err(err) => {
                                tracing::error!(%err, "upload storage task failed");
                                None
                            }
                        }
                    }
                    Message::MediaStats(totals) => {
                        let reports = coordinator.media_reports();
                        if let Err(err) = reports.record(node, site, session, totals) {
                            tracing::warn!(%err, "media report ignored");
                        }
                        None
                    }
                    Message::CallUp(up) => {
                        let c = coordinator.clone();
                        let (who, site) = (node.clone(), site.clone());
                        match tokio::task::spawn_blocking(move || c.call_up(&who, &site, up)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(err)) => tracing::info!(%err, "call report not carried out"),
                            Err(err) => tracing::error!(%err, "call control task failed"),
                        }
                        None
                    }
                    other => Some(Message::Reject {
                        request: env.id,
                        reason: RejectReason::NotAllowed(format!(
                            "{} is not accepted in a session",
                            kind_name(&other)
                        )),
                    }),
                };
                if let Some(reply) = reply
                    && let Err(e) = control.send(&reply).await
                {
                    return Ended::Link(e);
                }
            }
            _ = beat.tick() => {
                seq += 1;
                let hb = Message::Heartbeat(Heartbeat { seq, sent_us: now_us() });
                if let Err(e) = control.send(&hb).await {
                    return Ended::Link(e);
                }
            }
            Some(command) = commands.recv() => match command {
                SessionCommand::Goodbye(reason) => return Ended::Kicked(reason),
                SessionCommand::Send(message) => {
                    if let Err(e) = control.send(&message).await {
                        return Ended::Link(e);
                    }
                }
            },
            closed = conn.closed() => return Ended::Link(LinkError::Connection(closed)),
        }
    }
}

async fn say_goodbye(
    conn: &quinn::Connection,
    control: &mut ControlStream,
    reason: GoodbyeReason,
    code: u32,
) {
    let text = reason.to_string();
    let _ = timeout(LAST_WORDS, control.send(&Message::Goodbye(reason))).await;
    control.finish(LAST_WORDS).await;
    conn.close(quinn::VarInt::from_u32(code), text.as_bytes());
}
