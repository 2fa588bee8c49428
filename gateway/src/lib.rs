//! `tandem-gateway`: the branch appliance daemon.
//!
//! A gateway terminates its branch's lines and seats and keeps one session with the
//! coordinator. [`Gateway`] is the running daemon; the binary, the simulator and the
//! end-to-end tests all start it the same way.

pub mod enroll;
pub mod identity;
pub mod media;
pub mod media_link;
pub mod outbox;
pub mod uplink;

use identity::{GatewayStore, Identity, IdentityError};
use media_link::MediaLink;
use outbox::Outbox;
use std::path::Path;
use tandem_hal::board::BoardConfig;
use tandem_node::inventory::Inventory;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;
use uplink::{UplinkError, UplinkState};

/// The software version reported to the coordinator.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A running gateway.
pub struct Gateway {
    identity: Identity,
    media: MediaLink,
    outbox: Outbox,
    // Held for the gateway's lifetime: the database admits one opener.
    _store: GatewayStore,
    state: watch::Receiver<UplinkState>,
    stop: watch::Sender<bool>,
    uplink: JoinHandle<Result<(), UplinkError>>,
}

impl Gateway {
    /// Starts the gateway from its data directory (which must hold an enrolled
    /// identity) on the given board.
    pub fn start(data_dir: &Path, board: &BoardConfig) -> Result<Self, IdentityError> {
        let store = GatewayStore::open(data_dir)?;
        let identity = store.identity()?.ok_or(IdentityError::NotEnrolled)?;
        let outbox = store.outbox();
        let inventory = Inventory::from_board(board);
        let (state_tx, state) = watch::channel(UplinkState::Connecting { attempt: 0 });
        let (stop, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("gateway", node = %identity.node_id, site = %identity.site);
        tracing::info!(parent: &span, board = %board.name, inventory = %inventory.summary(), "gateway starting");
        let media = MediaLink::new();
        let uplink = tokio::spawn(
            uplink::run(
                uplink::Node {
                    identity: identity.clone(),
                    inventory,
                    media: media.clone(),
                    outbox: outbox.clone(),
                },
                stop_rx,
                state_tx,
            )
            .instrument(span),
        );
        Ok(Self {
            identity,
            media,
            outbox,
            _store: store,
            state,
            stop,
            uplink,
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Media datagrams of the legs this gateway has across the WAN.
    pub fn media(&self) -> &MediaLink {
        &self.media
    }

    /// Records waiting for the coordinator (CDRs, events); durable before
    /// `append` returns.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The uplink state, updated as it changes.
    pub fn state(&self) -> watch::Receiver<UplinkState> {
        self.state.clone()
    }

    /// Stops the gateway and waits for it to close its link.
    pub async fn stop(mut self) -> Result<(), UplinkError> {
        let _ = self.stop.send(true);
        self.finished().await
    }

    /// Resolves when the gateway ends by itself (revocation). Await it at most once
    /// to completion.
    pub async fn finished(&mut self) -> Result<(), UplinkError> {
        match (&mut self.uplink).await {
            Ok(result) => result,
            Err(e) => Err(UplinkError::Crashed(e.to_string())),
        }
    }
}
