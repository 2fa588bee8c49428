//! The engine's tokio side: CDRs go to the outbox (one fsync, off the audio
//! thread) and `CallUp` messages to the uplink. A call's `Ended` leaves only
//! after its CDR is committed, so the coordinator never hears of an end the
//! gateway could still lose.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tandem_node::calls::{CallUp, Cdr};
use tandem_node::proto::RecordKind;
use tokio::sync::mpsc;

use super::Stats;
use super::record::encode_cdr;
use crate::outbox::Outbox;

/// What the engine hands to the tokio side.
#[derive(Debug)]
pub enum Effect {
    /// Send to the coordinator (queued while offline).
    Up(CallUp),
    /// Commit the CDR; then, if `ended` is set, send it.
    Cdr {
        /// The record.
        cdr: Box<Cdr>,
        /// The `Ended` message to send once committed (calls the coordinator knew).
        ended: Option<CallUp>,
    },
}

/// `CallUp` messages waiting for the uplink's control stream.
pub const UPLINK_QUEUE: usize = 1024;

/// Runs until the engine drops its sender.
pub(crate) async fn run(
    mut rx: mpsc::UnboundedReceiver<Effect>,
    outbox: Outbox,
    up: mpsc::Sender<CallUp>,
    stats: Arc<Stats>,
) {
    while let Some(effect) = rx.recv().await {
        match effect {
            Effect::Up(msg) => send(&up, msg),
            Effect::Cdr { cdr, ended } => {
                let o = outbox.clone();
                let call = cdr.call;
                let created = cdr.ended_us;
                let body = encode_cdr(&cdr);
                let result =
                    tokio::task::spawn_blocking(move || o.append(RecordKind::Cdr, created, body))
                        .await;
                match result {
                    Ok(Ok(seq)) => {
                        stats.cdrs.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(call = %call, seq, "CDR committed");
                    }
                    Ok(Err(err)) => tracing::error!(call = %call, %err, "cannot write the CDR"),
                    Err(err) => tracing::error!(call = %call, %err, "CDR write task failed"),
                }
                if let Some(msg) = ended {
                    send(&up, msg);
                }
            }
        }
    }
}

fn send(up: &mpsc::Sender<CallUp>, msg: CallUp) {
    // A full queue means a long outage; the oldest facts matter less than the
    // audio thread never waiting, so the newest is dropped and logged.
    if let Err(err) = up.try_send(msg) {
        tracing::warn!(%err, "uplink queue full; call-control message dropped");
    }
}
