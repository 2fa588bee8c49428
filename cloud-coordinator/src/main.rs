//! `tandem-coordinator`: the command-line entry point.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use tandem_coordinator::Coordinator;
use tandem_coordinator::admin::{self, AdminRequest, AdminResponse};
use tandem_coordinator::server::ServeOptions;
use tandem_node::names::{NodeId, Site};

/// The Tandem coordinator: federates branch gateways into one contact center.
///
/// Start it with `serve`. Enroll a gateway by creating a one-time token here
/// (`token create`) and giving it to the field tech, who runs
/// `tandem-gateway enroll` on the box. Admin commands work whether or not `serve`
/// is running on the same data directory.
#[derive(Parser)]
#[command(name = "tandem-coordinator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the coordinator: accept gateway connections (QUIC) and, optionally, HTTP.
    Serve {
        /// Data directory: database, CA key and certificate, admin socket.
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// UDP address for gateway connections, e.g. 0.0.0.0:4433.
        #[arg(long, default_value = "0.0.0.0:4433")]
        listen: SocketAddr,
        /// TCP address for the HTTP API (health, node list), e.g. 127.0.0.1:8080.
        #[arg(long)]
        http: Option<SocketAddr>,
    },
    /// Enrollment tokens for new gateways.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// List the enrolled nodes: online, last seen, version, site, address, lines.
    Nodes {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Act on one node.
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// The center configuration: queues, agents, seats, supervisors, IVR flows.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate FILE, store it as the next version, apply it live (waiting calls
    /// keep their places) and push it to every online gateway.
    Load {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// The configuration, e.g. center-configs/demo.toml.
        file: PathBuf,
    },
    /// Print the version of the configuration in force.
    Show {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a one-time token for enrolling one gateway at SITE.
    ///
    /// The token carries the fingerprint of this coordinator's CA, so the gateway
    /// trusts exactly this coordinator on first contact. It works once and expires.
    Create {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// Site the gateway belongs to, e.g. bj-01 (lowercase letters, digits, '-').
        #[arg(long)]
        site: Site,
        /// How long the token stays valid, e.g. 24h, 30m, 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
}

#[derive(Subcommand)]
enum NodeCommand {
    /// Revoke a node: it is refused from now on and disconnected at once if online.
    Revoke {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// The node id, as shown by `tandem-coordinator nodes`.
        node_id: NodeId,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tandem_node::logging::init();
    match Cli::parse().command {
        Command::Serve { data, listen, http } => serve(data, listen, http).await,
        Command::Token {
            command: TokenCommand::Create { data, site, ttl },
        } => {
            let request = AdminRequest::CreateToken {
                site,
                ttl_secs: ttl.as_secs().max(1),
            };
            match call(&data, request).await? {
                AdminResponse::Token {
                    token,
                    site,
                    expires_at,
                    ca_fingerprint,
                } => {
                    eprintln!(
                        "token for site {site}, valid until {} (CA {ca_fingerprint}):",
                        humantime::format_rfc3339_seconds(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(expires_at)
                        )
                    );
                    println!("{token}");
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        Command::Nodes { data, json } => match call(&data, AdminRequest::ListNodes).await? {
            AdminResponse::Nodes { nodes } if json => {
                println!("{}", serde_json::to_string_pretty(&nodes)?);
                Ok(())
            }
            AdminResponse::Nodes { nodes } => {
                print!("{}", admin::render_table(&nodes));
                Ok(())
            }
            other => unexpected(other),
        },
        Command::Node {
            command: NodeCommand::Revoke { data, node_id },
        } => match call(&data, AdminRequest::RevokeNode { node_id }).await? {
            AdminResponse::Revoked {
                node_id,
                was_online,
            } => {
                let kicked = if was_online {
                    "; its session was closed"
                } else {
                    ""
                };
                println!("node {node_id} revoked{kicked}");
                Ok(())
            }
            other => unexpected(other),
        },
        Command::Config {
            command: ConfigCommand::Load { data, file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            match call(&data, AdminRequest::LoadConfig { text }).await? {
                AdminResponse::ConfigLoaded { version } => {
                    println!(
                        "configuration version {version} loaded from {}",
                        file.display()
                    );
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        Command::Config {
            command: ConfigCommand::Show { data },
        } => match call(&data, AdminRequest::ShowConfig).await? {
            AdminResponse::Config {
                version: Some(version),
            } => {
                println!("configuration version {version}");
                Ok(())
            }
            AdminResponse::Config { version: None } => {
                println!("no configuration loaded");
                Ok(())
            }
            other => unexpected(other),
        },
    }
}

async fn serve(data: PathBuf, listen: SocketAddr, http: Option<SocketAddr>) -> Result<()> {
    let coordinator = Coordinator::open(&data)
        .with_context(|| format!("opening data directory {}", data.display()))?;
    let running = coordinator.serve(ServeOptions { listen, http }).await?;
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn call(data: &std::path::Path, request: AdminRequest) -> Result<AdminResponse> {
    match admin::request(data, request).await? {
        AdminResponse::Error { message } => bail!("{message}"),
        ok => Ok(ok),
    }
}

fn unexpected(response: AdminResponse) -> Result<()> {
    bail!("unexpected answer from the coordinator: {response:?}")
}
