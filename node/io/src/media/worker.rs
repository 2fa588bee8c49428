//! The audio thread: a dedicated OS thread ticking once per frame, fed by a
//! bounded, never-blocking inbox.
//!
//! Audio must not share the async executor's critical path: a slow future or a
//! long poll would delay every frame. The network task therefore only
//! [`Inbox::offer`]s received datagrams (dropping when full, never waiting), and
//! the audio thread drains them, runs jitter buffers, mixing and encoding, and
//! sends with the non-blocking [`tandem_node::media::sender::MediaSender`]. Ticks follow
//! absolute deadlines so scheduling jitter never accumulates into drift.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Producer side of the audio thread's inbox; cheap to clone into network tasks.
#[derive(Clone)]
pub struct Inbox<T> {
    tx: SyncSender<T>,
    dropped: Arc<AtomicU64>,
}

/// Consumer side, owned by the audio thread.
pub struct InboxReader<T> {
    rx: Receiver<T>,
    dropped: Arc<AtomicU64>,
}

/// A bounded inbox holding at most `capacity` items.
pub fn inbox<T>(capacity: usize) -> (Inbox<T>, InboxReader<T>) {
    let (tx, rx) = sync_channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        Inbox {
            tx,
            dropped: Arc::clone(&dropped),
        },
        InboxReader { rx, dropped },
    )
}

impl<T> Inbox<T> {
    /// Queues `item` if there is room; otherwise drops it (counted). Never blocks,
    /// so it is safe to call from an async task.
    pub fn offer(&self, item: T) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

impl<T> InboxReader<T> {
    /// Everything queued right now, without waiting.
    pub fn drain(&self) -> impl Iterator<Item = T> + '_ {
        self.rx.try_iter()
    }

    /// Items dropped because the inbox was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Handle to a running audio thread; stops and joins it on drop.
pub struct AudioThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl AudioThread {
    /// Spawns a thread calling `tick(now_us)` every `period`, with `now_us` the
    /// microseconds since start of the deadline being served. Late ticks run at
    /// once (no sleep) and the schedule is kept, so the long-run rate is exact.
    pub fn spawn<F>(name: &str, period: Duration, mut tick: F) -> std::io::Result<Self>
    where
        F: FnMut(u64) + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let start = Instant::now();
                let mut deadline = start;
                while !stop_flag.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if deadline > now {
                        std::thread::sleep(deadline - now);
                    }
                    tick((deadline - start).as_micros() as u64);
                    deadline += period;
                }
            })?;
        Ok(AudioThread {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for its last tick to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            // A panicking tick already reported itself; nothing more to do here.
            let _ = h.join();
        }
    }
}

impl Drop for AudioThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn inbox_is_bounded_and_never_blocks() {
        let (tx, rx) = inbox::<u32>(2);
        assert!(tx.offer(1));
        assert!(tx.offer(2));
        assert!(!tx.offer(3));
        assert_eq!(rx.dropped(), 1);
        assert_eq!(rx.drain().collect::<Vec<_>>(), vec![1, 2]);
        assert!(tx.offer(4));
    }

    #[test]
    fn ticks_follow_the_period_and_drain_the_inbox() {
        let (tx, rx) = inbox::<u32>(16);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ticks = Arc::new(AtomicU64::new(0));
        let (s, t) = (Arc::clone(&seen), Arc::clone(&ticks));
        let thread = AudioThread::spawn("test-audio", Duration::from_millis(5), move |now| {
            if let Ok(mut v) = s.lock() {
                v.extend(rx.drain());
            }
            t.store(now, Ordering::Relaxed);
        })
        .unwrap();
        for i in 0..5 {
            assert!(tx.offer(i));
        }
        std::thread::sleep(Duration::from_millis(60));
        thread.stop();
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        let last = ticks.load(Ordering::Relaxed);
        // Tick timestamps are deadlines: multiples of the period.
        assert_eq!(last % 5_000, 0);
        assert!(last >= 40_000, "last tick at {last} µs");
    }
}
