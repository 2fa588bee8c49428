//! The CDR index against the full scan it replaced: 100,000 stored CDRs (100
//! days of 1,000 calls from two gateways, 20,000 caller numbers), timing (a) a
//! screen pop's history lookup (a number's latest 20 calls) and (b) one page of
//! 1,000 CDRs of one day, each both through the index and the old way — every
//! upload of every node read and decoded, sorted, then filtered — measured in
//! the same run, and printing the ratio.
//!
//! `cargo bench -p tandem-coordinator --bench cdr_index`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tandem_coordinator::store::Store;
use tandem_node::calls::{Cdr, EndCause, Hangup};
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{RecordKind, UploadRecord};
use tandem_node::routing::{AgentId, CallId, QueueId};

const DAYS: u64 = 100;
const PER_DAY: u64 = 1_000;
const NUMBERS: u64 = 20_000;
const DAY_US: u64 = 86_400_000_000;
/// 2026-11-01 00:00 UTC.
const FIRST_DAY_US: u64 = 20_758 * DAY_US;
const HISTORY: usize = 20;
const PAGE: usize = 1_000;

fn number(call: u64) -> String {
    format!("+86138{:08}", call * 7919 % NUMBERS)
}

/// A store holding the CDRs, in uploads of 1,000 records as gateways send them.
fn stored(dir: &std::path::Path) -> (Store, Vec<NodeId>) {
    let store = Store::open(dir).expect("store");
    let nodes = vec![
        NodeId::new("bj-01-a").expect("node"),
        NodeId::new("sh-01-a").expect("node"),
    ];
    let mut batch = Vec::new();
    for call in 0..DAYS * PER_DAY {
        let started_us = FIRST_DAY_US + call * (DAY_US / PER_DAY);
        let cdr = Cdr {
            call: CallId(call),
            site: Site::new(if call % 2 == 0 { "bj-01" } else { "sh-01" }).expect("site"),
            line: format!("fxo{}", call % 8),
            outbound: false,
            number: Some(number(call)),
            started_us,
            answered_us: Some(started_us + 15_000_000),
            ended_us: started_us + 200_000_000,
            hangup: Hangup::Caller,
            cause: EndCause::Completed,
            ivr_path: vec!["welcome".into(), "menu".into()],
            queue: Some(QueueId(1 + (call % 4) as u32)),
            agents: vec![AgentId((call % 50) as u32)],
            recording: Some(format!("{call}.ogg")),
            events: vec![],
        };
        batch.push(UploadRecord {
            seq: call / 2 + 1,
            kind: RecordKind::Cdr,
            created_at_us: cdr.ended_us,
            body: cdr.to_record(),
        });
        if batch.len() == 2 * PER_DAY as usize {
            for (i, node) in nodes.iter().enumerate() {
                let mine: Vec<_> = batch.iter().skip(i).step_by(2).cloned().collect();
                store.ingest(node, &mine, 0).expect("ingest");
            }
            batch.clear();
        }
    }
    (store, nodes)
}

/// The read path before the index, kept here only as the baseline: every upload
/// of every node decoded, the CDRs sorted by start.
fn full_scan(store: &Store, nodes: &[NodeId]) -> Vec<Cdr> {
    let mut cdrs = Vec::new();
    for node in nodes {
        for (_, upload) in store.uploads(node).expect("uploads") {
            if upload.kind == RecordKind::Cdr
                && let Ok(cdr) = Cdr::from_record(&upload.body)
            {
                cdrs.push(cdr);
            }
        }
    }
    cdrs.sort_by_key(|c| (c.started_us, c.call));
    cdrs
}

fn history_scan(store: &Store, nodes: &[NodeId], number: &str) -> Vec<Cdr> {
    let mut calls = full_scan(store, nodes);
    calls.retain(|c| c.number.as_deref() == Some(number));
    calls.reverse();
    calls.truncate(HISTORY);
    calls
}

fn page_scan(store: &Store, nodes: &[NodeId], day: std::ops::Range<u64>) -> Vec<Cdr> {
    let mut calls = full_scan(store, nodes);
    calls.retain(|c| day.contains(&c.started_us));
    calls.truncate(PAGE);
    calls
}

/// Mean time of `f` over `runs` runs.
fn mean(runs: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed() / runs
}

fn cdr_index(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let started = Instant::now();
    let (store, nodes) = stored(dir.path());
    let file = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum::<u64>();
    println!(
        "\ncdr_index: {} CDRs stored (uploads and index) in {:.1} s, {:.1} MiB on disk",
        store.cdr_count().expect("count"),
        started.elapsed().as_secs_f64(),
        file as f64 / (1 << 20) as f64
    );
    let caller = number(50_000);
    let day = FIRST_DAY_US + 50 * DAY_US..FIRST_DAY_US + 51 * DAY_US;
    let history = store.latest_cdrs_of(&caller, 0, HISTORY).expect("history");
    assert_eq!(history, history_scan(&store, &nodes, &caller));
    assert_eq!(history.len(), (DAYS * PER_DAY / NUMBERS) as usize);
    let page = store
        .cdr_page(day.clone(), None, PAGE, |_| true)
        .expect("page");
    assert_eq!(page.cdrs, page_scan(&store, &nodes, day.clone()));
    assert_eq!(page.cdrs.len(), PAGE);

    let history_old = mean(5, || {
        black_box(history_scan(&store, &nodes, &caller));
    });
    let history_new = mean(2_000, || {
        black_box(store.latest_cdrs_of(&caller, 0, HISTORY).expect("history"));
    });
    let page_old = mean(5, || {
        black_box(page_scan(&store, &nodes, day.clone()));
    });
    let page_new = mean(50, || {
        black_box(
            store
                .cdr_page(day.clone(), None, PAGE, |_| true)
                .expect("page"),
        );
    });
    let line = |what: &str, old: Duration, new: Duration| {
        println!(
            "cdr_index: {what}: index {:.3} ms, full scan {:.1} ms, x{:.0} faster",
            new.as_secs_f64() * 1e3,
            old.as_secs_f64() * 1e3,
            old.as_secs_f64() / new.as_secs_f64()
        );
    };
    line(
        "history (latest 20 of one number)",
        history_old,
        history_new,
    );
    line("export page (1,000 CDRs of one day)", page_old, page_new);

    let mut g = c.benchmark_group("cdr_index_100k");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("history_index", |b| {
        b.iter(|| store.latest_cdrs_of(&caller, 0, HISTORY).expect("history"))
    });
    g.bench_function("history_full_scan", |b| {
        b.iter(|| history_scan(&store, &nodes, &caller))
    });
    g.bench_function("day_page_index", |b| {
        b.iter(|| {
            store
                .cdr_page(day.clone(), None, PAGE, |_| true)
                .expect("page")
        })
    });
    g.bench_function("day_page_full_scan", |b| {
        b.iter(|| page_scan(&store, &nodes, day.clone()))
    });
    g.finish();
}

criterion_group!(benches, cdr_index);
criterion_main!(benches);
