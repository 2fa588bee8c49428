//! The `tandem-sim dsp` tools as a user runs them: the real binary, real files.

use std::path::Path;
use std::process::Command;

fn sim(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem-sim"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tandem-sim: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn dtmf_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "d.wav");
    let (ok, _, err) = sim(&[
        "dsp",
        "dtmf-encode",
        "--digits",
        "0123456789*#ABCD",
        "--out",
        &file,
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = sim(&["dsp", "dtmf-decode", &file]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "0123456789*#ABCD");
    let (ok, _, err) = sim(&["dsp", "dtmf-encode", "--digits", "12x", "--out", &file]);
    assert!(!ok && err.contains("not a DTMF key"), "{err}");
}

#[test]
fn caller_id_round_trip_in_every_standard() {
    let dir = tempfile::tempdir().unwrap();
    for standard in ["bell202", "v23"] {
        let file = path(dir.path(), &format!("{standard}.wav"));
        let (ok, _, err) = sim(&[
            "dsp",
            "cid-encode",
            "--number",
            "01062345678",
            "--name",
            "ZHANG WEI",
            "--time",
            "11230915",
            "--standard",
            standard,
            "--out",
            &file,
        ]);
        assert!(ok, "{err}");
        let (ok, out, err) = sim(&["dsp", "cid-decode", &file]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("standard: {standard}")), "{out}");
        assert!(out.contains("number: 01062345678"), "{out}");
        assert!(out.contains("name: ZHANG WEI"), "{out}");
        assert!(out.contains("time: 11-23 09:15"), "{out}");
    }
    let file = path(dir.path(), "dtmf.wav");
    let (ok, _, err) = sim(&[
        "dsp",
        "cid-encode",
        "--number",
        "13812345678",
        "--standard",
        "dtmf",
        "--out",
        &file,
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = sim(&["dsp", "cid-decode", &file]);
    assert!(ok, "{err}");
    assert!(
        out.contains("standard: dtmf") && out.contains("number: 13812345678"),
        "{out}"
    );
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "x.wav");
    let (ok, _, err) = sim(&[
        "dsp",
        "cid-encode",
        "--number",
        "1",
        "--time",
        "13450000",
        "--out",
        &file,
    ]);
    assert!(!ok && err.contains("MMDDHHMM"), "{err}");
    std::fs::write(&file, b"not a wav").unwrap();
    let (ok, _, err) = sim(&["dsp", "cid-decode", &file]);
    assert!(!ok && !err.is_empty());
    let silent = path(dir.path(), "silent.wav");
    let (ok, _, _) = sim(&["dsp", "dtmf-encode", "--digits", "", "--out", &silent]);
    assert!(ok);
    let (ok, _, err) = sim(&["dsp", "cid-decode", &silent]);
    assert!(!ok && err.contains("no caller ID"), "{err}");
}
