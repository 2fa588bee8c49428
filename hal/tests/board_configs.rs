//! Every file in board-configs/ loads and validates, and the sim backend can build
//! the simulated ones.

use std::path::Path;
use tandem_hal::board::{Backend, BoardConfig, PortKind};

#[test]
fn every_board_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let board = BoardConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            names.push(board.name.clone());
            if board.backend == Backend::Sim {
                let plan = tandem_hal::dsp::tones::TonePlan::by_name(&board.tone_plan).unwrap();
                let sim =
                    tandem_hal::sim::SimBoard::new(&board, plan, 160, tandem_hal::sim::Pace::Fast)
                        .unwrap();
                assert_eq!(sim.lines.len(), board.ports.len());
            }
        }
    }
    names.sort();
    assert_eq!(
        names,
        ["home-seat", "imx8-e1-card", "rpi4-fxo-fxs-hat", "sim"]
    );
    let sim = BoardConfig::load(&dir.join("sim.toml")).unwrap();
    assert_eq!(
        (
            sim.count(PortKind::Fxo),
            sim.count(PortKind::Fxs),
            sim.spans.len(),
            sim.seats.len()
        ),
        (4, 2, 1, 2)
    );
    let home = BoardConfig::load(&dir.join("home-seat.toml")).unwrap();
    assert_eq!((home.ports.len(), home.seats.len()), (0, 1));
}
