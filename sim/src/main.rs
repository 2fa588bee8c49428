//! `tandem-sim`: the command-line entry point of the simulator.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tandem_sim::bench::link::{self, LinkBenchOptions};
use tandem_sim::demo::{self, DemoOptions};

/// The Tandem simulator: a virtual contact center on simulated lines, and the load
/// generators behind the benchmarks. Everything runs the real coordinator and
/// gateway code over real QUIC on loopback.
#[derive(Parser)]
#[command(name = "tandem-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo: a coordinator, three branches and a home seat.
    Demo {
        /// QUIC address of the demo coordinator.
        #[arg(long, default_value = "127.0.0.1:4433")]
        listen: SocketAddr,
        /// HTTP address of the demo coordinator's API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Stop after this long (e.g. 30s); default: until Ctrl-C.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Keep the demo's state in this directory across runs.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
    /// Internal: the coordinator process a benchmark measures.
    #[command(hide = true)]
    CoordinatorChild {
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Many nodes on one coordinator: handshakes/s, memory per idle node, control
    /// round trip. Build with --release for meaningful figures.
    Link {
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Round trips measured per node.
        #[arg(long, default_value_t = 5)]
        pings: usize,
        /// Settling time before reading memory.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        idle: Duration,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tandem_node::logging::init();
    match Cli::parse().command {
        Command::Demo {
            listen,
            http,
            duration,
            data,
        } => {
            demo::run(DemoOptions {
                listen,
                http: Some(http),
                duration,
                data,
            })
            .await
        }
        Command::Bench {
            bench:
                Bench::Link {
                    nodes,
                    concurrency,
                    pings,
                    idle,
                    json,
                },
        } => {
            let options = LinkBenchOptions {
                nodes: nodes.max(2),
                concurrency: concurrency.max(1),
                pings: pings.max(1),
                idle,
            };
            let report = link::run(&options, &std::env::current_exe()?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            Ok(())
        }
        Command::CoordinatorChild { data } => link::coordinator_child(&data).await,
    }
}
