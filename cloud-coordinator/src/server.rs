//! The running coordinator: QUIC endpoint, accept loop, presence writer, admin
//! socket and optional HTTP API.

use crate::{Coordinator, CoordinatorError, admin, http, session, tls};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tandem_node::clock::SharedClock;
use tandem_node::link::close;
use tandem_node::names::NodeId;
use tandem_node::proto::{GoodbyeReason, Hello};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// What to listen on.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub http: Option<SocketAddr>,
    /// Serve `http` over TLS.
    pub http_tls: Option<crate::http::tls::HttpTls>,
}

/// A presence change to persist.
enum PresenceUpdate {
    Online {
        version: String,
        address: SocketAddr,
        inventory: tandem_node::inventory::Inventory,
        at: u64,
    },
    Offline {
        at: u64,
    },
}

/// Sends presence changes to the writer task, which batches them into few
/// transactions: presence is soft state and must not cost one fsync per event.
#[derive(Clone)]
pub struct Presence(mpsc::UnboundedSender<(NodeId, PresenceUpdate)>, SharedClock);

impl Presence {
    pub fn online(&self, id: &NodeId, hello: &Hello, address: SocketAddr) {
        let _ = self.0.send((
            id.clone(),
            PresenceUpdate::Online {
                version: hello.software_version.clone(),
                address,
                inventory: hello.inventory.clone(),
                at: self.1.now_secs(),
            },
        ));
    }

    pub fn offline(&self, id: &NodeId) {
        let _ = self.0.send((
            id.clone(),
            PresenceUpdate::Offline {
                at: self.1.now_secs(),
            },
        ));
    }
}

const PRESENCE_BATCH: Duration = Duration::from_millis(250);

async fn presence_writer(
    coordinator: Coordinator,
    mut rx: mpsc::UnboundedReceiver<(NodeId, PresenceUpdate)>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = HashMap::from([first]);
        tokio::time::sleep(PRESENCE_BATCH).await;
        while let Ok((id, update)) = rx.try_recv() {
            batch.insert(id, update);
        }
        let c = coordinator.clone();
        let result = tokio::task::spawn_blocking(move || {
            let ids: Vec<NodeId> = batch.keys().cloned().collect();
            c.store()
                .update_nodes(&ids, |node| match batch.remove(&node.node_id) {
                    Some(PresenceUpdate::Online {
                        version,
                        address,
                        inventory,
                        at,
                    }) => {
                        node.software_version = Some(version);
                        node.address = Some(address.to_string());
                        node.inventory = inventory;
                        node.last_seen = Some(at);
                    }
                    Some(PresenceUpdate::Offline { at }) => node.last_seen = Some(at),
                    None => {}
                })
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(%err, "could not persist presence"),
            Err(err) => tracing::error!(%err, "presence writer task failed"),
        }
    }
}

/// How often a faulted store is retried and held call records flushed.
const STORE_KEEPING: Duration = Duration::from_secs(1);

/// Brings the store back after a fault without waiting for a request to touch
/// it, and writes the call records held meanwhile (see `calls::journal`).
async fn store_keeper(coordinator: Coordinator) {
    let mut every = tokio::time::interval(STORE_KEEPING);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let c = coordinator.clone();
        if let Err(err) = tokio::task::spawn_blocking(move || c.keep_store()).await {
            tracing::error!(%err, "store keeper task failed");
        }
    }
}

/// A coordinator that is serving.
pub struct Running {
    coordinator: Coordinator,
    endpoint: quinn::Endpoint,
    http_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Coordinator {
    /// Starts serving: QUIC on `options.listen`, the admin socket in the data
    /// directory, and HTTP if asked.
    pub async fn serve(&self, options: ServeOptions) -> Result<Running, CoordinatorError> {
        let config = tls::server_config(self.ca(), self.revocations().clone())?;
        let endpoint = bind_udp(options.listen)
            .and_then(|socket| {
                quinn::Endpoint::new(
                    quinn::EndpointConfig::default(),
                    Some(config),
                    socket,
                    Arc::new(quinn::TokioRuntime),
                )
            })
            .map_err(|source| CoordinatorError::Listen {
                addr: options.listen.to_string(),
                source,
            })?;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let (presence_tx, presence_rx) = mpsc::unbounded_channel();
        let presence = Presence(presence_tx, self.clock().clone());
        tasks.spawn(presence_writer(self.clone(), presence_rx));
        tasks.spawn(accept_loop(self.clone(), endpoint.clone(), presence));
        let socket = admin::bind(self.data_dir()).map_err(|source| CoordinatorError::Listen {
            addr: admin::socket_path(self.data_dir()).display().to_string(),
            source,
        })?;
        tasks.spawn(admin::serve(self.clone(), socket, stop_rx.clone()));
        tasks.spawn(self.clone().call_timer(stop_rx.clone()));
        tasks.spawn(store_keeper(self.clone()));
        let http_addr = match options.http {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| CoordinatorError::Listen {
                        addr: addr.to_string(),
                        source,
                    })?;
                let bound = listener.local_addr().ok();
                match &options.http_tls {
                    Some(tls) => {
                        let config = http::tls::server_config(self, tls)
                            .map_err(|e| CoordinatorError::HttpTls(e.to_string()))?;
                        tasks.spawn(http::tls::serve(self.clone(), listener, config, stop_rx));
                    }
                    None => {
                        tasks.spawn(http::serve(self.clone(), listener, stop_rx));
                    }
                }
                bound
            }
            None => None,
        };
        tracing::info!(
            quic = %endpoint.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            http = ?http_addr,
            ca = %self.ca().fingerprint(),
            "coordinator serving"
        );
        Ok(Running {
            coordinator: self.clone(),
            endpoint,
            http_addr,
            stop,
            tasks,
        })
    }
}

/// Receive buffer asked for on the coordinator's UDP socket. After a coordinator
/// restart every gateway reconnects at once; with the Linux default (~208 KiB)
/// concurrent handshake flights overflow the socket and each dropped handshake
/// waits for QUIC's 1 s retransmission (`tandem-sim bench link`, 1,000 nodes, 64
/// handshakes in flight: connect p99 1,003 ms and 632 handshakes/s before, 75 ms
/// and 1,552/s with this buffer). The kernel caps it at `net.core.rmem_max`.
const UDP_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(err) = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
        tracing::warn!(%err, "could not enlarge the UDP receive buffer");
    }
    socket.bind(&addr.into())?;
    tracing::debug!(
        receive_buffer = socket.recv_buffer_size().unwrap_or_default(),
        "UDP socket bound"
    );
    Ok(socket.into())
}

async fn accept_loop(coordinator: Coordinator, endpoint: quinn::Endpoint, presence: Presence) {
    while let Some(incoming) = endpoint.accept().await {
        let coordinator = coordinator.clone();
        let presence = presence.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(conn) => session::handle(coordinator, conn, presence).await,
                Err(err) => tracing::info!(%remote, %err, "handshake failed"),
            }
        });
    }
}

impl Running {
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// The QUIC address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.endpoint.local_addr().ok()
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Tells every node goodbye and stops.
    pub async fn shutdown(mut self) {
        for id in self.coordinator.registry().ids() {
            self.coordinator.registry().kick(
                &id,
                GoodbyeReason::ShuttingDown,
                close::SHUTTING_DOWN,
            );
        }
        let _ = self.stop.send(true);
        let drained = async {
            while !self.coordinator.registry().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drained).await;
        self.endpoint.close(
            quinn::VarInt::from_u32(close::SHUTTING_DOWN),
            b"coordinator shutting down",
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
        // Give the presence writer one batch to persist the goodbyes.
        tokio::time::sleep(PRESENCE_BATCH * 2).await;
        self.tasks.abort_all();
        // Wait until the aborted tasks are dropped: each holds the coordinator
        // (and so its database) until then, and a restart in the same process
        // must find the file free.
        while self.tasks.join_next().await.is_some() {}
        let _ = std::fs::remove_file(admin::socket_path(self.coordinator.data_dir()));
    }
}
