//! The gateway's end of media over the coordinator link: datagrams of legs that
//! cross the WAN go out on the uplink's QUIC connection and come back in per leg.
//!
//! Audio threads call [`MediaLink::send`] and drain their leg's inbox; neither ever
//! waits on the network. While the link is down, sends are refused (counted) and
//! the legs' jitter buffers conceal, as they would for loss.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tandem_node::media::LegId;
use tandem_node::media::datagram::peek_leg;
use tandem_node::media::sender::{MediaSender, SendError};
use tandem_node::proto::LegOpen;
use tandem_node_io::media::QuicDatagrams;
use tandem_node_io::media::worker::{Inbox, InboxReader, inbox};
use tokio::sync::broadcast;

/// Call control's view of legs coming and going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    Opened(LegOpen),
    Closed(LegId),
}

/// Datagrams buffered per leg before the oldest are dropped (a few 20 ms frames;
/// the jitter buffer, not this queue, absorbs network jitter).
pub const LEG_INBOX: usize = 16;

/// Shared handle; cheap to clone into audio threads and the uplink.
#[derive(Clone)]
pub struct MediaLink {
    inner: Arc<Inner>,
}

struct Inner {
    sender: Mutex<Option<MediaSender<QuicDatagrams>>>,
    legs: Mutex<HashMap<LegId, Inbox<Bytes>>>,
    events: broadcast::Sender<LegEvent>,
    unrouted: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the locks; a panicked holder cannot leave it inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for MediaLink {
    fn default() -> Self {
        Self::new()
    }
}

impl MediaLink {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                sender: Mutex::new(None),
                legs: Mutex::new(HashMap::new()),
                events: broadcast::channel(64).0,
                unrouted: Default::default(),
            }),
        }
    }

    /// Sends one media datagram now or not at all.
    pub fn send(&self, datagram: &[u8]) -> Result<(), SendError> {
        match lock(&self.inner.sender).as_mut() {
            Some(sender) => sender.send(datagram),
            None => Err(SendError::ConnectionLost(
                "the coordinator link is down".to_owned(),
            )),
        }
    }

    /// Starts delivering `leg`'s datagrams to the returned reader.
    pub fn attach(&self, leg: LegId) -> InboxReader<Bytes> {
        let (tx, rx) = inbox(LEG_INBOX);
        lock(&self.inner.legs).insert(leg, tx);
        rx
    }

    /// Stops delivering `leg`.
    pub fn detach(&self, leg: LegId) {
        lock(&self.inner.legs).remove(&leg);
    }

    /// Legs opened and closed by the coordinator, from now on.
    pub fn events(&self) -> broadcast::Receiver<LegEvent> {
        self.inner.events.subscribe()
    }

    /// Datagrams that arrived for no attached leg.
    pub fn unrouted(&self) -> u64 {
        self.inner
            .unrouted
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn connected(&self, conn: quinn::Connection) {
        *lock(&self.inner.sender) = Some(MediaSender::new(QuicDatagrams(conn)));
    }

    pub(crate) fn disconnected(&self) {
        *lock(&self.inner.sender) = None;
    }

    pub(crate) fn event(&self, event: LegEvent) {
        if let LegEvent::Closed(leg) = &event {
            self.detach(*leg);
        }
        // No subscriber is fine: nobody attaches legs yet.
        let _ = self.inner.events.send(event);
    }

    /// Reads the connection's datagrams into the legs' inboxes until it closes.
    pub(crate) async fn receive(&self, conn: quinn::Connection) {
        while let Ok(datagram) = conn.read_datagram().await {
            self.deliver(datagram);
        }
    }

    /// Hands one received datagram to its leg's inbox (counted as unrouted
    /// when no leg is attached).
    pub(crate) fn deliver(&self, datagram: Bytes) {
        let inbox = peek_leg(&datagram)
            .ok()
            .and_then(|leg| lock(&self.inner.legs).get(&leg).cloned());
        match inbox {
            Some(inbox) => {
                inbox.offer(datagram);
            }
            None => {
                self.inner
                    .unrouted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}
