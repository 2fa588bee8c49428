//! Relay forwarding cost: datagrams routed per second per core with 10,000 live
//! legs (goal ≥ 300,000/s). Only the table lookup is measured here; the socket
//! work is quinn's.
//!
//! `cargo bench -p tandem-coordinator --bench relay`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use tandem_coordinator::relay::RelayTable;
use tandem_node::media::datagram::{Flags, Header, LegId};

const LEGS: u32 = 10_000;

fn table_and_traffic() -> (RelayTable<u32>, Vec<(u32, Vec<u8>)>) {
    let mut t = RelayTable::new();
    let mut traffic = Vec::new();
    for leg in 0..LEGS {
        // Gateways 0..100, seats 1000.. .
        let (gw, seat) = (leg % 100, 1000 + leg);
        t.create_leg(LegId(leg), gw, seat).expect("leg");
        let mut d = Vec::new();
        Header {
            leg: LegId(leg),
            seq: 0,
            timestamp: 0,
            flags: Flags::empty(),
        }
        .write(&[0xfc; 60], &mut d)
        .expect("datagram");
        traffic.push((if leg % 2 == 0 { gw } else { seat }, d));
    }
    (t, traffic)
}

fn relay(c: &mut Criterion) {
    let (mut t, traffic) = table_and_traffic();
    let n = 2_000_000;
    let start = Instant::now();
    for i in 0..n {
        let (from, d) = &traffic[(i * 7919) % traffic.len()];
        black_box(t.route(from, d).is_ok());
    }
    let per_s = n as f64 / start.elapsed().as_secs_f64();
    println!("\nrelay: {per_s:.0} datagrams/s on one core with {LEGS} legs (goal >= 300000)");

    let mut i = 0usize;
    c.bench_function("relay_route_10k_legs", |b| {
        b.iter(|| {
            i = (i + 7919) % traffic.len();
            let (from, d) = &traffic[i];
            black_box(t.route(from, d).is_ok())
        })
    });
}

criterion_group!(benches, relay);
criterion_main!(benches);
