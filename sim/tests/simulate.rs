//! The whole-network simulation: many seeds with every fault, replay, and a
//! deliberately broken branch that the invariants must catch.

use tandem_sim::simulate::{Faults, Options, SeededBug, Summary, run};

fn options(seed: u64) -> Options {
    Options {
        seed,
        hours: 1.0,
        sites: 3,
        agents: 30,
        faults: Faults::all(),
        ..Default::default()
    }
}

fn simulate(options: &Options) -> Summary {
    match run(options) {
        Ok(s) => s,
        Err(e) => panic!("seed {}: the simulation did not start: {e}", options.seed),
    }
}

/// CI's sweep: 200 seeds × 1 simulated hour of a 3-branch, 30-agent center
/// with WAN cuts, partitions, loss, gateway and coordinator crashes. Any
/// breach fails with its seed and step.
#[test]
fn two_hundred_seeds_with_faults_breach_no_invariant() {
    const SEEDS: u64 = 200;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let summaries: Vec<Summary> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (1..=SEEDS)
                        .filter(|s| s % threads == t)
                        .map(|s| simulate(&options(s)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(v) => v,
                Err(_) => panic!("a simulation thread panicked"),
            })
            .collect()
    });
    assert_eq!(summaries.len() as u64, SEEDS);
    let breaches: Vec<String> = summaries
        .iter()
        .flat_map(|s| s.breaches.iter().map(|b| b.to_string()))
        .collect();
    let events: u64 = summaries.iter().map(|s| s.events).sum();
    let checks: u64 = summaries
        .iter()
        .flat_map(|s| s.invariants.iter().map(|i| i.checks))
        .sum();
    let calls: u64 = summaries.iter().map(|s| s.calls.entered).sum();
    let crashes: u64 = summaries
        .iter()
        .map(|s| s.injected.gateway_crashes + s.injected.coordinator_crashes)
        .sum();
    let cuts: u64 = summaries
        .iter()
        .map(|s| s.injected.wan_cuts + s.injected.partitions)
        .sum();
    println!(
        "{SEEDS} seeds: {events} events, {checks} invariant checks, {calls} calls, {cuts} WAN cuts and partitions, {crashes} crashes, {} breaches",
        breaches.len()
    );
    assert!(breaches.is_empty(), "breaches:\n{}", breaches.join("\n"));
    // The faults really happened and every call got its CDR.
    assert!(crashes > 0 && cuts > 0);
    for s in &summaries {
        assert_eq!(s.calls.cdrs_stored, s.calls.entered, "seed {}", s.seed);
        assert!(
            s.invariants
                .iter()
                .all(|i| i.checks > 0 || i.name == "wire-codec"),
            "seed {}: {:?}",
            s.seed,
            s.invariants
        );
    }
}

/// A seed replays byte for byte; another seed is another run.
#[test]
fn same_seed_same_summary_other_seed_other_summary() {
    let json = |seed| match serde_json::to_string(&simulate(&options(seed))) {
        Ok(j) => j,
        Err(e) => panic!("summary: {e}"),
    };
    let first = json(42);
    assert_eq!(first, json(42));
    assert_ne!(first, json(43));
}

/// A branch that does not take back the calls waiting at the coordinator when
/// its WAN drops strands them: the simulation must find a seed showing it.
#[test]
fn a_seeded_bug_is_caught() {
    let broken = |seed| Options {
        bug: Some(SeededBug::SkipTakeBack),
        faults: Faults {
            wan: true,
            partition: true,
            ..Faults::default()
        },
        ..options(seed)
    };
    let found = (1..=20).find_map(|seed| {
        simulate(&broken(seed))
            .breaches
            .first()
            .map(|b| (seed, b.clone()))
    });
    let Some((seed, breach)) = found else {
        panic!("no seed in 1..=20 caught the stranded calls");
    };
    println!("seed {seed} caught it: {breach}");
    assert_eq!(breach.invariant, "no-call-lost-or-duplicated");
    assert_eq!(breach.seed, seed);
    // The same seed without the bug is clean.
    let fixed = Options {
        bug: None,
        ..broken(seed)
    };
    assert!(simulate(&fixed).breaches.is_empty());
}
