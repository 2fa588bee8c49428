//! `tandem-coordinator`: the command-line entry point.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use tandem_coordinator::admin::{self, AdminRequest, AdminResponse};
use tandem_coordinator::http::tls::HttpTls;
use tandem_coordinator::server::ServeOptions;
use tandem_coordinator::store::StoreError;
use tandem_coordinator::{Coordinator, CoordinatorError};
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
        /// TCP address for the web pages, the API and /metrics, e.g. 127.0.0.1:8080.
        /// Sessions end after 12 idle hours (TANDEM_SESSION_IDLE, e.g. 8h).
        #[arg(long)]
        http: Option<SocketAddr>,
        /// Serve --http over TLS with a certificate from the coordinator's own CA
        /// for this host name or IP address (repeat for several); browsers must
        /// trust DATA/ca.der.
        #[arg(long = "http-tls-name", conflicts_with_all = ["http_tls_cert", "http_tls_key"])]
        http_tls_names: Vec<String>,
        /// Serve --http over TLS with this certificate chain (PEM)...
        #[arg(long, requires = "http_tls_key")]
        http_tls_cert: Option<PathBuf>,
        /// ...and this private key (PEM).
        #[arg(long, requires = "http_tls_cert")]
        http_tls_key: Option<PathBuf>,
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
    /// Accounts of the web desktop, wallboard and admin pages.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
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
enum AccountCommand {
    /// Create an account. Without --password-stdin a random password is printed.
    Add {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// Login name (letters, digits, '.', '_', '-').
        #[arg(long)]
        user: String,
        /// agent, team-lead, duty-manager or admin.
        #[arg(long)]
        role: tandem_coordinator::accounts::Role,
        /// The agent id this person works as (agents and team leads).
        #[arg(long)]
        agent: Option<u32>,
        /// Groups a team lead leads, e.g. 1,2.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<u32>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
    },
    /// Set an account's password (ends its sessions). Without --password-stdin a
    /// random password is printed.
    Password {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        #[arg(long)]
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account and its sessions.
    Remove {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        #[arg(long)]
        user: String,
    },
}

/// The password from standard input, or a new random one (and whether it was
/// generated, so it must be shown).
fn read_password(from_stdin: bool) -> Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((
            tandem_coordinator::accounts::new_token()[..20].to_owned(),
            true,
        ))
    }
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
    tandem_node_io::logging::init();
    match Cli::parse().command {
        Command::Serve {
            data,
            listen,
            http,
            http_tls_names,
            http_tls_cert,
            http_tls_key,
        } => {
            let http_tls = match (http_tls_cert, http_tls_key) {
                (Some(cert), Some(key)) => Some(HttpTls::Files { cert, key }),
                _ if !http_tls_names.is_empty() => Some(HttpTls::OwnCa {
                    names: http_tls_names,
                }),
                _ => None,
            };
            if http_tls.is_some() && http.is_none() {
                bail!("--http-tls-* needs --http ADDR");
            }
            serve(
                data,
                ServeOptions {
                    listen,
                    http,
                    http_tls,
                },
            )
            .await
        }
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
        Command::Account { command } => account(command).await,
    }
}

async fn account(command: AccountCommand) -> Result<()> {
    use tandem_coordinator::accounts::{AccountSpec, Password};
    use tandem_node::routing::{AgentId, GroupId};
    match command {
        AccountCommand::Add {
            data,
            user,
            role,
            agent,
            groups,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let account = AccountSpec {
                username: user,
                password: Some(password.clone()),
                role,
                agent: agent.map(AgentId),
                groups: groups.into_iter().map(GroupId).collect(),
            };
            match call(&data, AdminRequest::AddAccount { account }).await? {
                AdminResponse::Account { account } => {
                    eprintln!("account {} ({}) created", account.username, account.role);
                    if generated {
                        println!("{password}");
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        AccountCommand::List { data } => match call(&data, AdminRequest::ListAccounts).await? {
            AdminResponse::Accounts { accounts } => {
                println!("{}", serde_json::to_string_pretty(&accounts)?);
                Ok(())
            }
            other => unexpected(other),
        },
        AccountCommand::Password {
            data,
            user,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let request = AdminRequest::SetPassword {
                username: user.clone(),
                password: Password(password.clone()),
            };
            call(&data, request).await?;
            eprintln!("password of {user} changed; their sessions ended");
            if generated {
                println!("{password}");
            }
            Ok(())
        }
        AccountCommand::Remove { data, user } => {
            call(
                &data,
                AdminRequest::RemoveAccount {
                    username: user.clone(),
                },
            )
            .await?;
            println!("account {user} removed");
            Ok(())
        }
    }
}

/// How long `serve` waits for an admin command that has the database open
/// (they hold it for milliseconds) before giving up.
const OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve(data: PathBuf, options: ServeOptions) -> Result<()> {
    let started = std::time::Instant::now();
    let coordinator = loop {
        match Coordinator::open(&data) {
            // An admin command run while no server was up opened the database
            // itself; a (re)starting service waits for it rather than failing.
            Err(CoordinatorError::Store(StoreError::Locked))
                if started.elapsed() < OPEN_PATIENCE =>
            {
                tracing::info!("data directory in use by an admin command; waiting");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            opened => {
                break opened
                    .with_context(|| format!("opening data directory {}", data.display()))?;
            }
        }
    };
    let running = coordinator.serve(options).await?;
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
