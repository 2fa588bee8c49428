//! A simulated WAN link between a branch and the coordinator: a UDP forwarder the
//! gateway dials instead of the coordinator, which can be cut and restored, or
//! made to lose a share of its packets each way. It drops packets the way a
//! failed or congested access line does (silently), so the gateway notices
//! through its own keep-alives and jitter buffers, exactly as in the field.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// Largest UDP payload forwarded (QUIC never sends more than this).
const MAX_DATAGRAM: usize = 65_535;

/// Which way a packet crosses the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Node → coordinator.
    Up,
    /// Coordinator → node.
    Down,
}

/// What the link does to packets, shared with its forwarding tasks.
#[derive(Default)]
struct Impairment {
    cut: AtomicBool,
    /// Percent of packets lost, up then down.
    loss: [AtomicU8; 2],
    dropped: AtomicU64,
}

impl Impairment {
    /// Whether the next packet going `direction` is dropped (and counted).
    fn drops(&self, direction: Direction, rng: &mut StdRng) -> bool {
        let percent = self.loss[direction as usize].load(Ordering::Relaxed);
        let drop = self.cut.load(Ordering::SeqCst)
            || (percent > 0 && rng.random_range(0..100u8) < percent);
        if drop {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }
}

/// A cuttable, lossy UDP path to `upstream`.
pub struct WanLink {
    addr: SocketAddr,
    impairment: Arc<Impairment>,
    task: JoinHandle<()>,
}

impl WanLink {
    /// Listens on an ephemeral loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<WanLink> {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let addr = socket.local_addr()?;
        let impairment = Arc::new(Impairment::default());
        let task = tokio::spawn(forward(socket, upstream, impairment.clone()));
        Ok(WanLink {
            addr,
            impairment,
            task,
        })
    }

    /// The address a gateway dials instead of the coordinator.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts (`true`) or restores (`false`) the link.
    pub fn set_cut(&self, cut: bool) {
        self.impairment.cut.store(cut, Ordering::SeqCst);
        tracing::info!(link = %self.addr, cut, "WAN link changed");
    }

    /// Loses `percent` (at most 100) of the packets going `direction`, at
    /// random; 0 restores a clean path.
    pub fn set_loss(&self, direction: Direction, percent: u8) {
        let percent = percent.min(100);
        self.impairment.loss[direction as usize].store(percent, Ordering::Relaxed);
        tracing::info!(link = %self.addr, ?direction, percent, "WAN link loss changed");
    }

    /// Packets dropped, while cut or to loss.
    pub fn dropped(&self) -> u64 {
        self.impairment.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for WanLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(down: Arc<UdpSocket>, upstream: SocketAddr, impairment: Arc<Impairment>) {
    // One upstream socket per client address, so the coordinator sees each
    // gateway as its own peer.
    let mut peers: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut rng = StdRng::from_os_rng();
    loop {
        let Ok((n, from)) = down.recv_from(&mut buf).await else {
            return;
        };
        if impairment.drops(Direction::Up, &mut rng) {
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
                tokio::spawn(backward(up.clone(), down.clone(), from, impairment.clone()));
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
    impairment: Arc<Impairment>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut rng = StdRng::from_os_rng();
    loop {
        let Ok(n) = up.recv(&mut buf).await else {
            return;
        };
        if impairment.drops(Direction::Down, &mut rng) {
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

    #[tokio::test]
    async fn loses_the_share_asked_for_one_way_only() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let link = WanLink::start(server.local_addr().unwrap()).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(link.addr()).await.unwrap();
        let mut buf = [0u8; 16];
        client.send(b"hello").await.unwrap();
        let (_, via) = server.recv_from(&mut buf).await.unwrap();

        link.set_loss(Direction::Down, 30);
        let count = |sock: &UdpSocket| {
            let mut n = 0;
            let mut buf = [0u8; 16];
            while sock.try_recv_from(&mut buf).is_ok() {
                n += 1;
            }
            n
        };
        // Small bursts, read as they come, so no socket buffer overflows.
        let (mut up, mut down) = (0, 0);
        for _ in 0..20 {
            for _ in 0..20 {
                client.send(b"up").await.unwrap();
                server.send_to(b"down", via).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            up += count(&server);
            down += count(&client);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        up += count(&server);
        down += count(&client);
        assert_eq!(up, 400, "nothing lost on the way up");
        assert!((200..360).contains(&down), "{down} of 400 arrived");
        assert_eq!(link.dropped(), 400 - down);
    }
}
