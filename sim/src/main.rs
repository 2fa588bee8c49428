//! `tandem-sim`: the command-line entry point of the simulator.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tandem_node::routing::bench_support::Workload;
use tandem_sim::bench::acd::{self, AcdBenchOptions};
use tandem_sim::bench::link::{self, LinkBenchOptions};
use tandem_sim::bench::{media, relay};
use tandem_sim::demo::{self, DemoOptions};
use tandem_sim::dsp;
use tandem_sim::erlang::{self, ErlangOptions};

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
    /// Run the demo: a whole virtual contact center (coordinator, three branches,
    /// two home agents, an expert pool) with simulated callers and agents.
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
        /// Print the final summary as JSON (with --duration).
        #[arg(long)]
        json: bool,
        /// Calls per minute ringing each branch.
        #[arg(long, default_value_t = 4.0)]
        calls_per_minute: f64,
        /// Seed of the simulated callers and agents.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// One simulated branch as its own process: a gateway (already enrolled in
    /// --data) on a simulated board, with callers on its lines and the agents the
    /// configuration seats there. Prints its call and CDR counters as they change.
    Node {
        /// The gateway's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Board file.
        #[arg(long, default_value = "board-configs/sim.toml")]
        board: PathBuf,
        /// Deployment configuration (to find this site's agents).
        #[arg(long, default_value = "center-configs/demo.toml")]
        config: PathBuf,
        /// Calls per minute on this branch's lines.
        #[arg(long, default_value_t = 6.0)]
        calls_per_minute: f64,
        /// Mean talk time, seconds.
        #[arg(long, default_value_t = 12.0)]
        talk: f64,
        /// Seed of the simulated people.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Line DSP tools over 8 kHz 16-bit mono WAV files (the gateway's own code).
    Dsp {
        #[command(subcommand)]
        tool: DspTool,
    },
    /// Check the routing engine against Erlang C: an M/M/N queue (one queue, FIFO,
    /// longest idle, no abandonment) simulated through the engine; prints measured
    /// P(wait), ASA and service level at 20 s with their intervals beside theory.
    Erlang {
        /// Agents N.
        #[arg(long)]
        agents: u32,
        /// Poisson arrival rate, calls per second.
        #[arg(long)]
        arrival_rate: f64,
        /// Mean (exponential) handle time, seconds.
        #[arg(long)]
        aht: f64,
        /// Calls to simulate (more calls, narrower intervals).
        #[arg(long, default_value_t = 100_000)]
        calls: u32,
        /// Seed of every random draw: same seed, same run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A small center for browser tests: bj-01 and gz-01 with the HTTP API and
    /// operator accounts; prints the URL and credentials as one JSON line, then
    /// takes commands on stdin (`call NUMBER DIGIT`, `hangup`, `quit`).
    WebFixture {
        /// HTTP address of the coordinator (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        http: SocketAddr,
        /// State directory; a fresh temporary one by default.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// The whole network in virtual time: the coordinator's call control, N
    /// branch gateways, callers, agents and a faulty WAN, with the invariants
    /// checked after every step. Same seed, same run; a breach prints its seed
    /// and step and exits non-zero.
    Simulate {
        /// The seed to run (or replay).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated hours of traffic; the network then heals and drains.
        #[arg(long, default_value_t = 1.0)]
        hours: f64,
        /// Branch gateways.
        #[arg(long, default_value_t = 3)]
        sites: usize,
        /// Agents, dealt over the branches.
        #[arg(long, default_value_t = 30)]
        agents: usize,
        /// Faults: wan, partition, loss, gateway-crash, coordinator-crash, all, none.
        #[arg(long, default_value = "all")]
        faults: tandem_sim::simulate::Faults,
        /// Print every event and message to stderr.
        #[arg(long)]
        trace: bool,
        /// Run this many seeds from --seed on (stops at the first breach).
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
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
    /// The whole-network simulation's speed: simulated time per wall second,
    /// faults on. Build with --release.
    Simulate {
        #[arg(long, default_value_t = 3)]
        sites: usize,
        #[arg(long, default_value_t = 30)]
        agents: usize,
        #[arg(long, default_value_t = 1.0)]
        hours: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// The media plane: latency breakdown, transcoded channels per core, relay
    /// datagrams per core. Build with --release.
    Media {
        /// CPU seconds each cost figure is measured over.
        #[arg(long, default_value_t = 2.0)]
        min_cpu: f64,
        #[arg(long)]
        json: bool,
    },
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
    /// The ACD routing engine at scale on one core: decisions/s, p99 per decision,
    /// agent state change, memory, and the naive queues × members scan in the same
    /// run. Defaults are issue 6's figures. Build with --release.
    Acd {
        #[arg(long, default_value_t = Workload::default().agents)]
        agents: u32,
        /// Queues (and as many skill groups).
        #[arg(long, default_value_t = Workload::default().queues)]
        queues: u32,
        /// Calls waiting in the steady state.
        #[arg(long, default_value_t = Workload::default().waiting)]
        waiting: usize,
        /// Groups each agent belongs to.
        #[arg(long, default_value_t = Workload::default().groups_per_agent)]
        groups_per_agent: u32,
        /// Routing decisions timed.
        #[arg(long, default_value_t = 400_000)]
        decisions: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints a report as pretty JSON or as text.
fn print<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        // The demo's console is its summary table; benchmarks and the simulation print a report.
        Command::Bench { .. } | Command::Simulate { .. } | Command::Demo { .. } => {
            tandem_node_io::logging::init_with_default("warn")
        }
        _ => tandem_node_io::logging::init(),
    }
    match cli.command {
        Command::Demo {
            listen,
            http,
            duration,
            data,
            json,
            calls_per_minute,
            seed,
        } => {
            demo::run(DemoOptions {
                listen,
                http: Some(http),
                duration,
                data,
                json,
                traffic: tandem_sim::traffic::TrafficConfig {
                    calls_per_minute_per_site: calls_per_minute,
                    seed,
                    ..Default::default()
                },
            })
            .await
        }
        Command::Node {
            data,
            board,
            config,
            calls_per_minute,
            talk,
            seed,
        } => {
            tandem_sim::node::run(tandem_sim::node::NodeOptions {
                data,
                board,
                config,
                traffic: tandem_sim::traffic::TrafficConfig {
                    calls_per_minute_per_site: calls_per_minute,
                    mean_talk: Duration::from_secs_f64(talk.max(0.5)),
                    transfer_share: 0.0,
                    blacklisted_share: 0.0,
                    menu: vec![('1', 1.0)],
                    mean_patience: Duration::from_secs(600),
                    seed,
                },
                transfer_to: tandem_node::routing::QueueId(3),
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
            print(&report, json)
        }
        Command::Bench {
            bench:
                Bench::Acd {
                    agents,
                    queues,
                    waiting,
                    groups_per_agent,
                    decisions,
                    json,
                },
        } => {
            let options = AcdBenchOptions {
                workload: Workload {
                    agents,
                    queues,
                    waiting,
                    groups_per_agent,
                    ..Workload::default()
                },
                decisions,
            };
            // CPU-bound and single-threaded by design: measured on this thread.
            let report = acd::run(&options)?;
            print(&report, json)
        }
        Command::Erlang {
            agents,
            arrival_rate,
            aht,
            calls,
            seed,
            json,
        } => {
            let report = erlang::run(&ErlangOptions {
                agents,
                arrival_rate_per_s: arrival_rate,
                aht_s: aht,
                calls,
                seed,
            })?;
            print(&report, json)
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
        Command::Bench {
            bench: Bench::Media { min_cpu, json },
        } => {
            let options = media::MediaBenchOptions {
                min_cpu_s: min_cpu.max(0.05),
                ..Default::default()
            };
            let report = media::run(&options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            Ok(())
        }
        Command::WebFixture { http, data } => {
            tandem_sim::web_fixture::run(tandem_sim::web_fixture::FixtureOptions { http, data })
                .await
        }
        Command::Simulate {
            seed,
            hours,
            sites,
            agents,
            faults,
            seeds,
            trace,
            json,
        } => simulate(seed, seeds, hours, sites, agents, faults, trace, json),
        Command::Bench {
            bench:
                Bench::Simulate {
                    sites,
                    agents,
                    hours,
                    seed,
                    json,
                },
        } => {
            let options = tandem_sim::simulate::Options {
                seed,
                hours,
                sites,
                agents,
                ..Default::default()
            };
            print(&tandem_sim::simulate::report::bench(&options)?, json)
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

/// Runs `seeds` simulations from `seed` on; a breach prints its seed and step
/// and makes the process fail.
#[allow(clippy::too_many_arguments)]
fn simulate(
    seed: u64,
    seeds: u64,
    hours: f64,
    sites: usize,
    agents: usize,
    faults: tandem_sim::simulate::Faults,
    trace: bool,
    json: bool,
) -> Result<()> {
    for seed in seed..seed.saturating_add(seeds.max(1)) {
        let options = tandem_sim::simulate::Options {
            seed,
            hours,
            sites,
            agents,
            faults,
            trace,
            ..Default::default()
        };
        let summary = tandem_sim::simulate::run(&options)?;
        print(&summary, json)?;
        if let Some(b) = summary.breaches.first() {
            anyhow::bail!(
                "{b}\nreplay: tandem-sim simulate --seed {} --hours {hours} --sites {sites} --agents {agents}",
                b.seed
            );
        }
    }
    Ok(())
}
