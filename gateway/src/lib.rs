//! `tandem-gateway`: the branch appliance daemon.
//!
//! A gateway terminates its branch's lines and seats and keeps one session with the
//! coordinator. [`Gateway`] is the running daemon; the binary, the simulator and the
//! end-to-end tests all start it the same way.

pub mod calls;
pub mod enroll;
pub mod identity;
pub mod media;
pub mod media_link;
pub mod outbox;
pub mod uplink;

use calls::config_cache::ConfigCache;
use calls::{AgentViews, CallStats, CallsError, Cmd, Devices, EngineHandle, Stats};
use identity::{GatewayStore, Identity, IdentityError};
use media_link::MediaLink;
use outbox::Outbox;
use std::path::Path;
use std::sync::Arc;
use tandem_hal::board::BoardConfig;
use tandem_node::calls::{AgentCommand, AgentView, ConfigPush, ValidCenterConfig};
use tandem_node::clock::SharedClock;
use tandem_node::inventory::Inventory;
use tandem_node::random::{fork, seeded};
use tandem_node::routing::AgentId;
use tandem_node_io::clock::SystemClock;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;
use uplink::{UplinkError, UplinkState};

/// The software version reported to the coordinator.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Calls(#[from] CallsError),
}

/// A running gateway.
pub struct Gateway {
    identity: Identity,
    engine: EngineHandle,
    effects: Option<std::thread::JoinHandle<()>>,
    views: AgentViews,
    stats: Arc<Stats>,
    cache: ConfigCache,
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
    /// identity) on the given board, driving `devices` (the board's line ports
    /// and seats; [`Devices::none`] for a gateway without audio hardware).
    /// Calls are answered with the cached configuration until the coordinator
    /// pushes a newer one, so a branch restarted during a WAN outage still works.
    /// Must be called within a tokio runtime. Runs on the system clock with
    /// randomness seeded from the OS; [`Self::start_in`] takes both.
    pub fn start(
        data_dir: &Path,
        board: &BoardConfig,
        devices: Devices,
    ) -> Result<Self, StartError> {
        Self::start_in(
            data_dir,
            board,
            devices,
            SystemClock::shared(),
            tandem_node_io::random::os_seed(),
        )
    }

    /// [`Self::start`] on `clock`, with every random choice (call ids,
    /// reconnection jitter) drawn from `seed`, so a simulation replays it.
    pub fn start_in(
        data_dir: &Path,
        board: &BoardConfig,
        devices: Devices,
        clock: SharedClock,
        seed: u64,
    ) -> Result<Self, StartError> {
        let mut rng = seeded(seed);
        let store = GatewayStore::open(data_dir)?;
        let identity = store.identity()?.ok_or(IdentityError::NotEnrolled)?;
        // Recordings are the calls themselves: owner-only from the start, and
        // closed again if someone opened the directory up.
        let recordings_dir = data_dir.join("recordings");
        tandem_node_io::private_files::dir(&recordings_dir).map_err(IdentityError::from)?;
        let outbox = store.outbox();
        calls::effects::close_cut_calls(&outbox);
        let cache = store.config_cache();
        let cached = cache.load_valid();
        if let Some((version, _)) = &cached {
            tracing::info!(
                version,
                "using the cached configuration until the coordinator sends one"
            );
        }
        let inventory = Inventory::from_board(board);
        let (state_tx, state) = watch::channel(UplinkState::Connecting { attempt: 0 });
        let (stop, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("gateway", node = %identity.node_id, site = %identity.site);
        tracing::info!(parent: &span, board = %board.name, inventory = %inventory.summary(), "gateway starting");
        let media = MediaLink::new();
        let views = AgentViews::default();
        let stats = Arc::new(Stats::default());
        let (effects_tx, effects_rx) = std::sync::mpsc::channel();
        let (up_tx, up_rx) = tokio::sync::mpsc::channel(calls::effects::UPLINK_QUEUE);
        let seats = devices
            .seats
            .into_iter()
            .enumerate()
            .map(|(i, dev)| {
                // Devices come in board order; a device without a board entry
                // keeps its own name.
                let id = board
                    .seats
                    .get(i)
                    .map_or_else(|| dev.name().to_owned(), |s| s.id.clone());
                (id, dev)
            })
            .collect();
        let engine = calls::engine::spawn(calls::engine::EngineSetup {
            site: identity.site.clone(),
            node: identity.node_id.to_string(),
            lines: devices.lines,
            spans: devices.spans,
            r2_spans: board
                .spans
                .iter()
                .filter_map(|s| Some((s.id.clone(), s.r2()?)))
                .collect(),
            seats,
            plan: &tandem_hal::dsp::tones::CHINA,
            prompt_dir: Some(data_dir.join("prompts")),
            recordings_dir,
            config: cached.map(|(_, c)| c),
            media: media.clone(),
            effects: effects_tx,
            views: views.clone(),
            stats: stats.clone(),
            clock: clock.clone(),
            rng: fork(&mut rng),
        })?;
        let effects = {
            let _enter = span.enter();
            calls::effects::spawn(
                effects_rx,
                outbox.clone(),
                up_tx,
                stats.clone(),
                engine.sender(),
            )
            .map_err(CallsError::Thread)?
        };
        tokio::spawn(follow_uplink(state.clone(), engine.sender()));
        let uplink = tokio::spawn(
            uplink::run(
                uplink::Node {
                    identity: identity.clone(),
                    inventory,
                    media: media.clone(),
                    outbox: outbox.clone(),
                    calls: uplink::CallsLink {
                        engine: engine.sender(),
                        up: tokio::sync::Mutex::new(up_rx),
                        cache: cache.clone(),
                        stats: stats.clone(),
                    },
                    clock,
                },
                fork(&mut rng),
                stop_rx,
                state_tx,
            )
            .instrument(span),
        );
        Ok(Self {
            identity,
            engine,
            effects: Some(effects),
            views,
            stats,
            cache,
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

    /// An agent seated on this gateway pressed a button: forwarded to the
    /// coordinator while online, handled by the local router while alone.
    /// A value over its limit ([`tandem_node::limits`]) is refused here, at
    /// the seat, before it could reach a frame.
    pub fn agent_command(&self, agent: AgentId, command: AgentCommand) -> Result<(), CallsError> {
        tandem_node::limits::check_agent_command(&command)?;
        // The engine hears of uplink changes from a task that may not have run
        // yet; telling it the state seen here first (idempotent) keeps a command
        // given right after the link came up from being routed locally.
        let online = matches!(*self.state.borrow(), UplinkState::Online { .. });
        self.engine.send(Cmd::Online(online))?;
        self.engine.send(Cmd::Agent(agent, command))
    }

    /// What `agent`'s screen shows, updated by the coordinator's `AgentUpdate`s
    /// or by the local router.
    pub fn agent_view(&self, agent: AgentId) -> watch::Receiver<AgentView> {
        self.views.subscribe(agent)
    }

    /// Calls up now, calls seen, CDRs committed, media totals.
    pub fn stats(&self) -> CallStats {
        self.stats.snapshot()
    }

    /// Calls on the lines now.
    pub fn calls_active(&self) -> usize {
        self.stats.snapshot().calls_active
    }

    /// The configuration this gateway caches (the last one pushed) and its
    /// version; `None` before the first. Blocking (reads the database).
    pub fn cached_config(&self) -> Option<(u64, Arc<ValidCenterConfig>)> {
        self.cache.load_valid()
    }

    /// Applies a configuration as if the coordinator had pushed it: validated,
    /// cached (unless older than the cache) and used for new calls. Blocking
    /// (one fsync); the demo and tests use it to prepare a gateway offline.
    pub fn apply_config(&self, push: &ConfigPush) -> Result<(), CallsError> {
        if let Some(config) = self.cache.store(push)? {
            self.engine.send(Cmd::Config(config))?;
        }
        Ok(())
    }

    /// Stops the gateway and waits for it to close its link.
    pub async fn stop(mut self) -> Result<(), UplinkError> {
        let _ = self.stop.send(true);
        self.stop_calls();
        self.finished().await
    }

    /// Stops the audio thread, then lets the effects thread commit what the
    /// engine handed it (it ends when the engine's sender is gone).
    fn stop_calls(&mut self) {
        self.engine.stop();
        if let Some(t) = self.effects.take() {
            // A panicking effects thread already logged itself.
            let _ = t.join();
        }
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

impl Drop for Gateway {
    /// A dropped gateway leaves no thread holding its database: the data
    /// directory can be opened again at once.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.stop_calls();
    }
}

/// Tells the engine whether the coordinator is reachable, as the uplink changes.
async fn follow_uplink(
    mut state: watch::Receiver<UplinkState>,
    engine: std::sync::mpsc::SyncSender<Cmd>,
) {
    let mut last = None;
    loop {
        let online = matches!(*state.borrow_and_update(), UplinkState::Online { .. });
        if last != Some(online) {
            last = Some(online);
            match engine.try_send(Cmd::Online(online)) {
                Ok(()) => {}
                // The gateway is stopping.
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
                Err(std::sync::mpsc::TrySendError::Full(_)) => {
                    tracing::warn!(
                        online,
                        "engine busy; uplink state passed on at the next change"
                    );
                    last = None;
                }
            }
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
