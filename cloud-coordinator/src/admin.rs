//! Administrator operations, and the local socket that lets the command-line tool
//! reach a running coordinator.
//!
//! redb admits one opener per database, so while `serve` runs, `tandem-coordinator
//! nodes` and friends send their request over `DATA/admin.sock` (owner-only
//! permissions); when no server runs they open the data directory themselves. Both
//! paths execute the same [`Coordinator::admin`].

use crate::store::StoreError;
use crate::{Coordinator, CoordinatorError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tandem_node::inventory::Inventory;
use tandem_node::names::{NodeId, Site};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

const SOCKET_FILE: &str = "admin.sock";
/// Large enough for a whole center configuration (TOML, JSON-escaped).
const MAX_REQUEST: u64 = 4 * 1024 * 1024;

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// An administrator request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    CreateToken {
        site: Site,
        ttl_secs: u64,
    },
    ListNodes,
    RevokeNode {
        node_id: NodeId,
    },
    /// Validate, store, apply and push a center configuration (TOML text).
    LoadConfig {
        text: String,
    },
    /// The version of the configuration in force.
    ShowConfig,
    AddAccount {
        account: crate::accounts::AccountSpec,
    },
    ListAccounts,
    SetPassword {
        username: String,
        password: crate::accounts::Password,
    },
    RemoveAccount {
        username: String,
    },
}

/// The answer to an [`AdminRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AdminResponse {
    Token {
        token: String,
        site: Site,
        expires_at: u64,
        ca_fingerprint: String,
    },
    Nodes {
        nodes: Vec<NodeView>,
    },
    Revoked {
        node_id: NodeId,
        was_online: bool,
    },
    ConfigLoaded {
        version: u64,
    },
    Config {
        version: Option<u64>,
    },
    Account {
        account: crate::accounts::AccountView,
    },
    Accounts {
        accounts: Vec<crate::accounts::AccountView>,
    },
    Done,
    Error {
        message: String,
    },
}

/// A node as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub node_id: NodeId,
    pub site: Site,
    pub online: bool,
    pub revoked: bool,
    /// Unix seconds; now if online.
    pub last_seen: Option<u64>,
    pub enrolled_at: u64,
    pub software_version: Option<String>,
    pub address: Option<String>,
    pub rtt_ms: Option<f64>,
    /// Node clock minus coordinator clock, milliseconds.
    pub clock_offset_ms: Option<f64>,
    pub inventory: Inventory,
}

impl Coordinator {
    /// Every known node, merged with live session data.
    pub fn node_views(&self) -> Result<Vec<NodeView>, StoreError> {
        let mut views: Vec<NodeView> = self
            .store()
            .nodes()?
            .into_iter()
            .map(|rec| {
                let live = self.registry().get(&rec.node_id);
                let mut view = NodeView {
                    online: live.is_some(),
                    revoked: rec.revoked_at.is_some(),
                    last_seen: rec.last_seen,
                    enrolled_at: rec.enrolled_at,
                    software_version: rec.software_version,
                    address: rec.address,
                    rtt_ms: None,
                    clock_offset_ms: None,
                    inventory: rec.inventory,
                    node_id: rec.node_id,
                    site: rec.site,
                };
                if let Some(live) = live {
                    view.last_seen = Some(self.now_secs());
                    view.software_version = Some(live.software_version);
                    view.address = Some(live.address.to_string());
                    view.inventory = live.inventory;
                    view.rtt_ms = Some(live.conn.rtt().as_secs_f64() * 1e3);
                    if live.health.samples > 0 {
                        view.clock_offset_ms = Some(live.health.offset_us as f64 / 1e3);
                    }
                }
                view
            })
            .collect();
        views.sort_by(|a, b| (&a.site, &a.node_id).cmp(&(&b.site, &b.node_id)));
        Ok(views)
    }

    /// Executes an administrator request. Blocking (database work).
    pub fn admin(&self, request: AdminRequest) -> AdminResponse {
        let result = match request {
            AdminRequest::LoadConfig { text } => {
                return match self.load_config(&text) {
                    Ok(version) => AdminResponse::ConfigLoaded { version },
                    Err(e) => AdminResponse::Error {
                        message: e.to_string(),
                    },
                };
            }
            AdminRequest::ShowConfig => {
                return AdminResponse::Config {
                    version: self.config_version(),
                };
            }
            AdminRequest::CreateToken { site, ttl_secs } => {
                self.create_token(site, ttl_secs)
                    .map(|t| AdminResponse::Token {
                        token: t.encode(),
                        site: t.site,
                        expires_at: t.expires_at,
                        ca_fingerprint: t.ca_fingerprint.to_string(),
                    })
            }
            AdminRequest::ListNodes => self
                .node_views()
                .map(|nodes| AdminResponse::Nodes { nodes }),
            AdminRequest::RevokeNode { node_id } => {
                self.revoke(&node_id)
                    .map(|(_, was_online)| AdminResponse::Revoked {
                        node_id,
                        was_online,
                    })
            }
            AdminRequest::AddAccount { account } => {
                return account_result(self.add_account(&account), |account| {
                    AdminResponse::Account { account }
                });
            }
            AdminRequest::SetPassword { username, password } => {
                return account_result(self.set_password(&username, &password), |()| {
                    AdminResponse::Done
                });
            }
            AdminRequest::RemoveAccount { username } => {
                return account_result(self.store().delete_account(&username), |()| {
                    AdminResponse::Done
                });
            }
            AdminRequest::ListAccounts => self
                .account_views()
                .map(|accounts| AdminResponse::Accounts { accounts }),
        };
        result.unwrap_or_else(|e| AdminResponse::Error {
            message: e.to_string(),
        })
    }
}

fn account_result<T>(
    result: Result<T, crate::accounts::AccountError>,
    ok: impl FnOnce(T) -> AdminResponse,
) -> AdminResponse {
    result.map(ok).unwrap_or_else(|e| AdminResponse::Error {
        message: e.to_string(),
    })
}

/// The node list as a fixed-width table for terminals.
pub fn render_table(nodes: &[NodeView]) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{:<22} {:<10} {:<8} {:<20} {:<9} {:<22} {:>8}  LINES\n",
        "NODE", "SITE", "STATE", "LAST SEEN", "VERSION", "ADDRESS", "RTT"
    );
    for n in nodes {
        let state = if n.revoked {
            "revoked"
        } else if n.online {
            "online"
        } else {
            "offline"
        };
        let seen = n.last_seen.map_or_else(
            || "never".to_owned(),
            |s| {
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
                )
                .to_string()
            },
        );
        let rtt = n
            .rtt_ms
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.1}ms"));
        let _ = writeln!(
            out,
            "{:<22} {:<10} {:<8} {:<20} {:<9} {:<22} {:>8}  {}",
            n.node_id.as_str(),
            n.site.as_str(),
            state,
            seen,
            n.software_version.as_deref().unwrap_or("-"),
            n.address.as_deref().unwrap_or("-"),
            rtt,
            n.inventory.summary()
        );
    }
    out
}

/// Binds the admin socket, replacing a stale one (we hold the database lock, so no
/// other server can be using it).
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    use tandem_node_io::private_files::{FILE_MODE, chmod};
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    // The data directory is owner-only already; the socket is too.
    chmod(&path, FILE_MODE)?;
    Ok(listener)
}

/// Serves admin requests: one JSON line in, one JSON line out, per connection.
pub async fn serve(
    coordinator: Coordinator,
    listener: UnixListener,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "admin socket accept failed");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            if let Err(err) = answer(coordinator, stream).await {
                tracing::warn!(%err, "admin request failed");
            }
        });
    }
}

async fn answer(coordinator: Coordinator, stream: UnixStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_REQUEST))
        .read_line(&mut line)
        .await?;
    let response = match serde_json::from_str::<AdminRequest>(&line) {
        Ok(request) => {
            tracing::info!(?request, "admin request");
            tokio::task::spawn_blocking(move || coordinator.admin(request))
                .await
                .unwrap_or_else(|e| AdminResponse::Error {
                    message: e.to_string(),
                })
        }
        Err(e) => AdminResponse::Error {
            message: format!("bad admin request: {e}"),
        },
    };
    let mut out = serde_json::to_vec(&response).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

use tokio::io::AsyncReadExt as _;

/// Runs an admin request against the coordinator owning `data_dir`: through its
/// socket if it is serving, directly otherwise.
pub async fn request(
    data_dir: &Path,
    req: AdminRequest,
) -> Result<AdminResponse, CoordinatorError> {
    match UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => via_socket(stream, &req)
            .await
            .map_err(|source| CoordinatorError::DataDir {
                path: socket_path(data_dir),
                source,
            }),
        Err(_) => {
            let dir = data_dir.to_path_buf();
            tokio::task::spawn_blocking(move || Coordinator::open(&dir).map(|c| c.admin(req)))
                .await
                .map_err(|e| CoordinatorError::DataDir {
                    path: data_dir.to_path_buf(),
                    source: std::io::Error::other(e),
                })?
        }
    }
}

async fn via_socket(stream: UnixStream, req: &AdminRequest) -> std::io::Result<AdminResponse> {
    let (read, mut write) = stream.into_split();
    let mut out = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}
