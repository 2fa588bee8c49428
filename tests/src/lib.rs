//! Shared helpers for the end-to-end tests: real coordinator and gateway code over
//! real QUIC on loopback, in process or as real processes.

use anyhow::{Context, Result, bail};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tandem_coordinator::Coordinator;
use tandem_coordinator::server::{Running, ServeOptions};
use tandem_gateway::identity::{GatewayStore, Identity};
use tandem_hal::board::BoardConfig;
use tandem_node::names::Site;

/// Path of a workspace binary, built once per test run with the same cargo and
/// profile as the tests (cargo does not build other packages' binaries for us).
pub fn binary(name: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "tandem-coordinator",
                "-p",
                "tandem-gateway",
                "-p",
                "tandem-sim",
            ])
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("cargo build failed: {status}"))
        }
    });
    if let Err(e) = built {
        bail!("{e}");
    }
    // tests run from target/<profile>/deps/<test>-<hash>
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no target directory")?;
    Ok(dir.join(name))
}

/// The sim board, as the gateway under test runs on.
pub fn sim_board() -> BoardConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/sim.toml");
    BoardConfig::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts a gateway without line or seat hardware (the link, media relay and
/// outbox tests need none).
pub fn start_gateway(
    dir: &Path,
    board: &BoardConfig,
) -> Result<tandem_gateway::Gateway, tandem_gateway::StartError> {
    tandem_gateway::Gateway::start(dir, board, tandem_gateway::calls::Devices::none())
}

/// Logs for a test run, once (`RUST_LOG` respected).
pub fn init_logs() {
    tandem_node_io::logging::init();
}

/// An in-process coordinator serving on an ephemeral loopback port.
pub struct TestCoordinator {
    pub dir: tempfile::TempDir,
    pub running: Running,
}

impl TestCoordinator {
    pub async fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let running = serve(dir.path()).await?;
        Ok(Self { dir, running })
    }

    pub fn coordinator(&self) -> &Coordinator {
        self.running.coordinator()
    }

    /// "127.0.0.1:port" of the QUIC endpoint.
    pub fn addr(&self) -> String {
        self.running
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// A fresh token for `site`.
    pub fn token(&self, site: &str) -> String {
        let site = Site::new(site).unwrap_or_else(|e| panic!("{e}"));
        self.coordinator()
            .create_token(site, 3600)
            .unwrap_or_else(|e| panic!("{e}"))
            .encode()
    }

    /// Enrolls a new gateway data directory at `site`.
    pub async fn enroll(&self, site: &str) -> Result<(tempfile::TempDir, Identity)> {
        let dir = tempfile::tempdir()?;
        let store = GatewayStore::open(dir.path())?;
        let identity =
            tandem_gateway::enroll::enroll(&store, &self.addr(), &self.token(site), false).await?;
        Ok((dir, identity))
    }
}

/// Serves a coordinator on an ephemeral loopback port.
pub async fn serve(dir: &Path) -> Result<Running> {
    let coordinator = Coordinator::open(dir)?;
    Ok(coordinator
        .serve(ServeOptions {
            listen: "127.0.0.1:0".parse()?,
            http: None,
            http_tls: None,
        })
        .await?)
}

/// Polls `check` until it returns true or `limit` passes; returns the time taken.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Ok(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("{what}: not reached within {limit:?}")
}

/// A free UDP port on loopback (for processes that must be restarted on the same
/// address).
pub fn free_udp_port() -> Result<u16> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(socket.local_addr()?.port())
}
