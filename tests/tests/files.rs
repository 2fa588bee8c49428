//! Owner-only files: the coordinator and a gateway started in directories
//! that already exist with mode 0755, then restarted after an operator opened
//! their keys and databases to others (0644): directories end up 0700 and
//! keys, databases and the admin socket 0600. A key others may write is
//! refused with a message saying what to do.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use tandem_coordinator::Coordinator;
use tandem_coordinator::server::{Running, ServeOptions};
use tandem_gateway::uplink::UplinkState;
use tandem_tests::*;

fn mode(path: &Path) -> Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

fn chmod(path: &Path, mode: u32) -> Result<()> {
    Ok(std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(mode),
    )?)
}

fn owner_only(paths: &[(&Path, u32)]) -> Result<()> {
    for (path, want) in paths {
        let got = mode(path)?;
        ensure!(
            got == *want,
            "{} is {got:04o}, expected {want:04o}",
            path.display()
        );
    }
    Ok(())
}

/// An empty directory with mode 0755, as `mkdir` under a usual umask makes it.
fn open_dir(root: &Path, name: &str) -> Result<std::path::PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir(&dir)?;
    chmod(&dir, 0o755)?;
    Ok(dir)
}

/// Opens and serves the coordinator of `data` on loopback `port`.
async fn serve_at(data: &Path, port: u16) -> Result<Running> {
    let coordinator = Coordinator::open(data)?;
    Ok(coordinator
        .serve(ServeOptions {
            listen: ([127, 0, 0, 1], port).into(),
            http: None,
            http_tls: None,
        })
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_databases_and_directories_are_owner_only() -> Result<()> {
    init_logs();
    let root = tempfile::tempdir()?;
    // The gateway reconnects to the address it enrolled at.
    let port = free_udp_port()?;

    // The coordinator, first start in an existing 0755 directory.
    let data = open_dir(root.path(), "coordinator")?;
    let key = data.join("ca-key.pem");
    let db = data.join("coordinator.redb");
    let socket = data.join("admin.sock");
    let first = serve_at(&data, port).await?;
    owner_only(&[
        (&data, 0o700),
        (&key, 0o600),
        (&db, 0o600),
        (&socket, 0o600),
    ])?;

    // A gateway enrolled into an existing 0755 directory.
    let gw = open_dir(root.path(), "gateway")?;
    let store = tandem_gateway::identity::GatewayStore::open(&gw)?;
    let token = first
        .coordinator()
        .create_token(tandem_node::names::Site::new("bj-01")?, 3600)?
        .encode();
    let addr = first
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tandem_gateway::enroll::enroll(&store, &addr, &token, false).await?;
    drop(store);
    let gw_db = gw.join("gateway.redb");
    owner_only(&[(&gw, 0o700), (&gw_db, 0o600)])?;

    // An operator's copy opened everything to others; the next starts close it.
    first.shutdown().await;
    for (path, m) in [
        (&data, 0o755),
        (&key, 0o644),
        (&db, 0o644),
        (&gw, 0o755),
        (&gw_db, 0o644),
    ] {
        chmod(path, m)?;
    }
    let recordings = gw.join("recordings");
    std::fs::create_dir(&recordings)?;
    chmod(&recordings, 0o755)?;
    let running = serve_at(&data, port).await?;
    owner_only(&[
        (&data, 0o700),
        (&key, 0o600),
        (&db, 0o600),
        (&socket, 0o600),
    ])?;
    let gateway = start_gateway(&gw, &sim_board())?;
    owner_only(&[(&gw, 0o700), (&gw_db, 0o600), (&recordings, 0o700)])?;
    let state = gateway.state();
    eventually(Duration::from_secs(10), "gateway online", || {
        let up = matches!(*state.borrow(), UplinkState::Online { .. });
        async move { up }
    })
    .await?;
    gateway.stop().await?;
    running.shutdown().await;

    // A CA key others may write may have been replaced: refused, untouched.
    chmod(&key, 0o666)?;
    let refused = match serve_at(&data, port).await {
        Ok(running) => {
            running.shutdown().await;
            anyhow::bail!("a CA key writable by others must be refused");
        }
        Err(e) => format!("{e:#}"),
    };
    ensure!(
        refused.contains("ca-key.pem") && refused.contains("chmod 600"),
        "{refused}"
    );
    ensure!(mode(&key)? == 0o666);
    Ok(())
}
