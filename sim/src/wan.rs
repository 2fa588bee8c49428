//! A simulated WAN link between a branch and the coordinator: a UDP forwarder the
//! gateway dials instead of the coordinator, which can be cut and restored. It
//! drops packets the way a failed access line does (silently, both ways), so the
//! gateway notices through its own keep-alives, exactly as in the field.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// Largest UDP payload forwarded (QUIC never sends more than this).
const MAX_DATAGRAM: usize = 65_535;

/// A cuttable UDP path to `upstream`.
pub struct WanLink {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl WanLink {
    /// Listens on an ephemeral loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<WanLink> {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let addr = socket.local_addr()?;
        let cut = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(forward(socket, upstream, cut.clone(), dropped.clone()));
        Ok(WanLink {
            addr,
            cut,
            dropped,
            task,
        })
    }

    /// The address a gateway dials instead of the coordinator.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts (`true`) or restores (`false`) the link.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        tracing::info!(link = %self.addr, cut, "WAN link changed");
    }

    /// Packets dropped while cut.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for WanLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    down: Arc<UdpSocket>,
    upstream: SocketAddr,
    cut: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
) {
    // One upstream socket per client address, so the coordinator sees each
    // gateway as its own peer.
    let mut peers: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = down.recv_from(&mut buf).await else {
            return;
        };
        if cut.load(Ordering::SeqCst) {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let up = match peers.get(&from) {
            Some(up) => up.clone(),
            None => {
                let Ok(up) = UdpSocket::bind("127.0.0.1:0").await else {
                    continue;
                };
                if up.connect(upstream).await.is_err() {
                    continue;
                }
                let up = Arc::new(up);
                tokio::spawn(backward(
                    up.clone(),
                    down.clone(),
                    from,
                    cut.clone(),
                    dropped.clone(),
                ));
                peers.insert(from, up.clone());
                up
            }
        };
        let _ = up.send(&buf[..n]).await;
    }
}

async fn backward(
    up: Arc<UdpSocket>,
    down: Arc<UdpSocket>,
    client: SocketAddr,
    cut: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok(n) = up.recv(&mut buf).await else {
            return;
        };
        if cut.load(Ordering::SeqCst) {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let _ = down.send_to(&buf[..n], client).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn forwards_both_ways_and_drops_while_cut() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let link = WanLink::start(server.local_addr().unwrap()).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(link.addr()).await.unwrap();
        let mut buf = [0u8; 16];

        client.send(b"ping").await.unwrap();
        let (n, via) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        server.send_to(b"pong", via).await.unwrap();
        let n = client.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");

        link.set_cut(true);
        client.send(b"lost").await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(200), server.recv_from(&mut buf)).await;
        assert!(r.is_err(), "a cut link delivered a packet");
        assert_eq!(link.dropped(), 1);

        link.set_cut(false);
        client.send(b"back").await.unwrap();
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    }
}
