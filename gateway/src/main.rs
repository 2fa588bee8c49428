//! `tandem-gateway`: the command-line entry point of the branch appliance.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tandem_gateway::Gateway;
use tandem_gateway::calls::Devices;
use tandem_gateway::identity::GatewayStore;
use tandem_hal::board::BoardConfig;

/// The Tandem branch gateway: bridges this office's phone lines and agent seats into
/// the virtual contact center.
///
/// First `enroll` once with the token from the administrator, then `run` (normally
/// started at boot). The gateway reconnects by itself after any outage.
#[derive(Parser)]
#[command(name = "tandem-gateway", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this box with the coordinator using a one-time token.
    ///
    /// The token pins the coordinator's CA, so the box cannot be tricked into
    /// enrolling elsewhere. The box's private key is generated here and never sent.
    Enroll {
        /// Coordinator address, host:port (e.g. tandem.example.com:4433).
        #[arg(long)]
        coordinator: String,
        /// The token printed by `tandem-coordinator token create`.
        #[arg(long, env = "TANDEM_TOKEN")]
        token: String,
        /// Data directory for the identity (and later configuration and outbox).
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// Replace an existing identity.
        #[arg(long)]
        force: bool,
    },
    /// Run the gateway: connect to the coordinator and drive the board's lines.
    Run {
        #[arg(long, env = "TANDEM_DATA")]
        data: PathBuf,
        /// Board description, e.g. board-configs/sim.toml.
        #[arg(long)]
        board: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tandem_node_io::logging::init();
    match Cli::parse().command {
        Command::Enroll {
            coordinator,
            token,
            data,
            force,
        } => {
            let store = GatewayStore::open(&data)
                .with_context(|| format!("opening data directory {}", data.display()))?;
            let identity =
                tandem_gateway::enroll::enroll(&store, &coordinator, &token, force).await?;
            println!(
                "enrolled as node {} (site {}); start it with: tandem-gateway run --data {} --board <board.toml>",
                identity.node_id,
                identity.site,
                data.display()
            );
            Ok(())
        }
        Command::Run { data, board } => {
            let board = BoardConfig::load(&board)?;
            let devices = devices_for(&board)?;
            let mut gateway = Gateway::start(&data, &board, devices)?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => gateway.stop().await?,
                result = gateway.finished() => result?,
            }
            Ok(())
        }
    }
}

/// The board's line ports and seats. A simulated board runs in real time with
/// the China tone plan (the demo's exchange); an ALSA board gets its headset
/// seats (feature `alsa`); line chips on SPI are not wired up here yet.
fn devices_for(board: &BoardConfig) -> Result<Devices> {
    use tandem_hal::board::Backend;
    match board.backend {
        Backend::Sim => {
            let sim = tandem_hal::sim::SimBoard::new(
                board,
                &tandem_hal::dsp::tones::CHINA,
                tandem_hal::dsp::FRAME_20MS,
                tandem_hal::sim::Pace::RealTime,
            )
            .context("building the simulated board")?;
            Ok(Devices::from_sim(sim).0)
        }
        Backend::Alsa => alsa_devices(board),
    }
}

#[cfg(feature = "alsa")]
fn alsa_devices(board: &BoardConfig) -> Result<Devices> {
    let mut seats: Vec<Box<dyn tandem_hal::audio::AudioDevice>> = Vec::new();
    for s in &board.seats {
        // 20 ms periods, the engine's frame.
        let period = (s.sample_rate / 50) as usize;
        let dev = tandem_hal::alsa::AlsaDevice::open(&s.device, &s.device, s.sample_rate, period)
            .with_context(|| format!("opening seat {} on {}", s.id, s.device))?;
        seats.push(Box::new(dev));
    }
    if !board.ports.is_empty() {
        tracing::warn!("line ports on SPI chips are not driven yet; the lines stay idle");
    }
    if !board.spans.is_empty() {
        tracing::warn!("E1 framers are not driven yet; the spans stay idle");
    }
    Ok(Devices {
        lines: Vec::new(),
        spans: Vec::new(),
        seats,
    })
}

#[cfg(not(feature = "alsa"))]
fn alsa_devices(_board: &BoardConfig) -> Result<Devices> {
    anyhow::bail!("this board needs ALSA: build tandem-gateway with `--features alsa`")
}
