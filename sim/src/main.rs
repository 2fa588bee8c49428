//! `tandem-sim`: the command-line entry point of the simulator.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tandem_sim::bench::link::{self, LinkBenchOptions};
use tandem_sim::bench::relay;
use tandem_sim::demo::{self, DemoOptions};
use tandem_sim::dsp;

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
    /// Line DSP tools over 8 kHz 16-bit mono WAV files (the gateway's own code).
    Dsp {
        #[command(subcommand)]
        tool: DspTool,
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
enum DspTool {
    /// Write DTMF digits (0-9, *, #, A-D) to a WAV file.
    DtmfEncode {
        #[arg(long)]
        digits: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the DTMF digits heard in a WAV file.
    DtmfDecode { file: PathBuf },
    /// Write a caller ID transmission to a WAV file.
    CidEncode {
        #[arg(long)]
        number: String,
        /// Caller name (FSK standards only).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum, default_value = "bell202")]
        standard: Standard,
        /// Date and time as the exchange sends it, MMDDHHMM (FSK standards only).
        #[arg(long)]
        time: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the caller ID (number, name, time) found in a WAV file.
    CidDecode { file: PathBuf },
}

/// Caller ID signalling.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Standard {
    /// Bell 202 FSK after the first ring.
    Bell202,
    /// ITU-T V.23 FSK (ETSI).
    V23,
    /// DTMF digits before the first ring.
    Dtmf,
}

impl From<Standard> for tandem_hal::dsp::callerid::CidStandard {
    fn from(s: Standard) -> Self {
        match s {
            Standard::Bell202 => Self::Bell202,
            Standard::V23 => Self::V23,
            Standard::Dtmf => Self::Dtmf,
        }
    }
}

#[derive(Subcommand)]
enum Bench {
    /// Media datagrams through the coordinator's relay: datagrams forwarded per
    /// CPU-second of the coordinator. Build with --release.
    Relay {
        /// Relayed legs, each between two simulated nodes.
        #[arg(long, default_value_t = 100)]
        pairs: usize,
        /// Datagrams per second sent on each leg.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Measurement window.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        window: Duration,
        #[arg(long)]
        json: bool,
    },
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
    let cli = Cli::parse();
    match cli.command {
        Command::Bench { .. } => tandem_node::logging::init_with_default("warn"),
        _ => tandem_node::logging::init(),
    }
    match cli.command {
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
        Command::Bench {
            bench:
                Bench::Relay {
                    pairs,
                    rate,
                    window,
                    json,
                },
        } => {
            let options = relay::RelayBenchOptions {
                pairs: pairs.max(1),
                rate_per_leg: rate.max(1),
                window,
            };
            let report = relay::run(&options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            Ok(())
        }
        Command::Dsp { tool } => run_dsp(tool),
        Command::CoordinatorChild { data } => link::coordinator_child(&data).await,
    }
}

fn run_dsp(tool: DspTool) -> Result<()> {
    match tool {
        DspTool::DtmfEncode { digits, out } => dsp::dtmf_encode(&digits, &out),
        DspTool::DtmfDecode { file } => {
            println!("{}", dsp::dtmf_decode(&file)?);
            Ok(())
        }
        DspTool::CidEncode {
            number,
            name,
            standard,
            time,
            out,
        } => {
            let time = time.as_deref().map(dsp::parse_time).transpose()?;
            dsp::cid_encode(&number, name.as_deref(), time, standard.into(), &out)
        }
        DspTool::CidDecode { file } => {
            print!("{}", dsp::describe(&dsp::cid_decode(&file)?));
            Ok(())
        }
    }
}
