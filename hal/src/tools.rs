//! The DSP behind the `tandem-sim dsp` commands (issue 4, item 6): make and read
//! 8 kHz 16-bit mono WAV files of DTMF and caller ID, so field techs and tests can
//! check a line's signals with the same code the gateway runs. The simulator's CLI
//! only parses arguments and prints; everything else is here.

use crate::dsp::callerid::receiver::{CallerIdReceiver, Received};
use crate::dsp::callerid::{
    CallerId, CallerIdError, CidStandard, UnknownStandard, dtmf_cid, fsk::FskTransmitter,
};
use crate::dsp::dtmf::{DtmfDetector, DtmfGenerator, DtmfTiming, NotADtmfKey};
use crate::dsp::ms_to_samples;
use crate::wav::{WavError, read_line_audio, write_line_audio};
use std::path::Path;

/// What went wrong in a tool, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error(transparent)]
    Dtmf(#[from] NotADtmfKey),
    #[error(transparent)]
    CallerId(#[from] CallerIdError),
    #[error(transparent)]
    Standard(#[from] UnknownStandard),
}

/// Half a second of silence around generated signals, as a line would have.
const PAD_MS: u32 = 500;

fn padded(signal: &[i16]) -> Vec<i16> {
    let pad = ms_to_samples(PAD_MS);
    let mut out = vec![0; pad];
    out.extend_from_slice(signal);
    out.resize(out.len() + pad, 0);
    out
}

/// `dtmf-encode --digits D --out F`: writes the digits at standard timing.
pub fn dtmf_encode(digits: &str, out: &Path) -> Result<(), ToolError> {
    let mut samples = Vec::new();
    // The generator holds 32 digits; longer strings are rendered in pieces.
    let keys: Vec<char> = digits.chars().collect();
    for chunk in keys.chunks(32) {
        let part: String = chunk.iter().collect();
        samples.extend(DtmfGenerator::render(&part, DtmfTiming::default())?);
    }
    write_line_audio(out, &padded(&samples))?;
    Ok(())
}

/// `dtmf-decode F`: the digits in a recording.
pub fn dtmf_decode(input: &Path) -> Result<String, ToolError> {
    Ok(DtmfDetector::decode(&read_line_audio(input)?))
}

/// `cid-encode --number N --name X --standard S --out F`: a caller-ID signal as
/// the exchange sends it (MDMF for the FSK standards, `A…C` framing for DTMF).
pub fn cid_encode(
    number: &str,
    name: Option<&str>,
    standard: CidStandard,
    out: &Path,
) -> Result<(), ToolError> {
    let mut id = CallerId::with_number(number)?;
    if let Some(name) = name {
        id = id.named(name)?;
    }
    let signal = match standard {
        CidStandard::Dtmf => {
            let mut g = dtmf_cid::transmitter(&id)?;
            let mut buf = vec![0; ms_to_samples(120 * 34)];
            let n = g.fill(&mut buf);
            buf.truncate(n);
            buf
        }
        fsk => FskTransmitter::render(&id, fsk, false)?,
    };
    write_line_audio(out, &padded(&signal))?;
    Ok(())
}

/// `cid-decode F`: every caller-ID delivery in a recording (auto-detecting the
/// standard), or why one failed to decode.
pub fn cid_decode(input: &Path) -> Result<Vec<Result<Received, CallerIdError>>, ToolError> {
    let samples = read_line_audio(input)?;
    let mut rx = CallerIdReceiver::new();
    let mut found = Vec::new();
    for frame in samples.chunks(160) {
        rx.process(frame, |r| found.push(r));
    }
    found.extend(rx.ring_started());
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_round_trips_through_a_wav_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.wav");
        let digits = "0123456789*#ABCD0123456789*#ABCD0123";
        dtmf_encode(digits, &f).unwrap();
        assert_eq!(dtmf_decode(&f).unwrap(), digits);
        for std in ["bell202", "V23", "dtmf"] {
            let std: CidStandard = std.parse().unwrap();
            let f = dir.path().join(format!("{std}.wav"));
            cid_encode("13800138000", Some("ZHANG SAN"), std, &f).unwrap();
            let got = cid_decode(&f).unwrap();
            assert_eq!(got.len(), 1, "{std}");
            let r = got[0].as_ref().unwrap();
            assert_eq!(r.standard, std);
            let shown = r.to_string();
            assert!(shown.starts_with("number 13800138000"), "{shown}");
            if std != CidStandard::Dtmf {
                assert!(shown.contains("name ZHANG SAN"), "{shown}");
            }
        }
    }

    #[test]
    fn bad_input_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.wav");
        assert_eq!(
            dtmf_encode("12x", &f).unwrap_err().to_string(),
            "'x' is not a DTMF key (0-9, *, #, A-D)"
        );
        assert!(
            "morse"
                .parse::<CidStandard>()
                .unwrap_err()
                .to_string()
                .contains("bell202, v23 or dtmf")
        );
        assert!(cid_encode("1".repeat(40).as_str(), None, CidStandard::Bell202, &f).is_err());
        let missing = dtmf_decode(&dir.path().join("none.wav")).unwrap_err();
        assert!(missing.to_string().contains("none.wav"));
    }
}
