//! `tandem-sim dsp`: the line DSP as command-line tools over 8 kHz 16-bit mono WAV
//! files, so field techs and testers can make and check line signals with the exact
//! code the gateway runs (and compare it with multimon-ng, minimodem or sox).

use anyhow::{Context, Result, bail};
use std::path::Path;
use tandem_hal::dsp::callerid::dtmf_cid;
use tandem_hal::dsp::callerid::fsk::FskTransmitter;
use tandem_hal::dsp::callerid::receiver::{CallerIdReceiver, Received};
use tandem_hal::dsp::callerid::{CallerId, CidStandard, DateTime};
use tandem_hal::dsp::dtmf::{DtmfDetector, DtmfGenerator, DtmfTiming};
use tandem_hal::wav::{read_line_audio, write_line_audio};

/// Line sample rate of every file these tools read and write.
const RATE: usize = 8000;

/// Silence around generated signals, as on a real line (decoders must find the
/// start themselves).
const PADDING: usize = RATE / 5;

fn padded(signal: Vec<i16>) -> Vec<i16> {
    let mut out = vec![0; PADDING];
    out.extend(signal);
    out.extend(std::iter::repeat_n(0, PADDING));
    out
}

fn render(mut generator: DtmfGenerator) -> Vec<i16> {
    let mut out = Vec::new();
    let mut chunk = [0i16; RATE / 50];
    while !generator.is_done() {
        let n = generator.fill(&mut chunk);
        out.extend_from_slice(&chunk[..n]);
        if n == 0 {
            break;
        }
    }
    out
}

/// Writes `digits` as DTMF (70 ms tone, 70 ms pause, -8/-6 dBm0).
pub fn dtmf_encode(digits: &str, out: &Path) -> Result<()> {
    let generator = DtmfGenerator::new(digits, DtmfTiming::default())?;
    write_line_audio(out, &padded(render(generator)))?;
    Ok(())
}

/// The DTMF digits heard in a file.
pub fn dtmf_decode(file: &Path) -> Result<String> {
    let samples = read_line_audio(file)?;
    Ok(DtmfDetector::decode(&samples))
}

/// Parses "MMDDHHMM" as caller ID carries it.
pub fn parse_time(text: &str) -> Result<DateTime> {
    let field = |i: usize| -> Result<u8> {
        text.get(i..i + 2)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("--time {text:?}: expected MMDDHHMM"))
    };
    if text.len() != 8 {
        bail!("--time {text:?}: expected MMDDHHMM (8 digits)");
    }
    let t = DateTime {
        month: field(0)?,
        day: field(2)?,
        hour: field(4)?,
        minute: field(6)?,
    };
    if !(1..=12).contains(&t.month) || !(1..=31).contains(&t.day) || t.hour > 23 || t.minute > 59 {
        bail!("--time {text:?}: not a valid MMDDHHMM month, day, hour and minute");
    }
    Ok(t)
}

/// Writes a caller ID transmission: FSK (Bell 202 or V.23, MDMF with number, name
/// and time) or DTMF (number only, as DTMF caller ID carries).
pub fn cid_encode(
    number: &str,
    name: Option<&str>,
    time: Option<DateTime>,
    standard: CidStandard,
    out: &Path,
) -> Result<()> {
    let mut id = CallerId::with_number(number)?;
    if let Some(name) = name {
        id = id.named(name)?;
    }
    id.time = time;
    let signal = match standard {
        CidStandard::Bell202 | CidStandard::V23 => FskTransmitter::render(&id, standard, false)?,
        CidStandard::Dtmf => render(dtmf_cid::transmitter(&id)?),
    };
    write_line_audio(out, &padded(signal))?;
    Ok(())
}

/// The caller ID in a file, whichever standard it uses.
pub fn cid_decode(file: &Path) -> Result<Received> {
    let samples = read_line_audio(file)?;
    let mut receiver = CallerIdReceiver::new();
    let mut found = None;
    for chunk in samples.chunks(RATE / 50) {
        receiver.process(chunk, |r| {
            if found.is_none() {
                found = Some(r);
            }
        });
    }
    // End of file acts as the first ring: it closes a DTMF delivery.
    let found = found.or_else(|| receiver.ring_started());
    match found {
        Some(result) => Ok(result?),
        None => bail!("no caller ID found in {}", file.display()),
    }
}

/// Human-readable caller ID, one field per line.
pub fn describe(received: &Received) -> String {
    let id = &received.id;
    let standard = match received.standard {
        CidStandard::Bell202 => "bell202",
        CidStandard::V23 => "v23",
        CidStandard::Dtmf => "dtmf",
    };
    let mut out = format!("standard: {standard}\nnumber: {}\n", id.number);
    if let Some(reason) = &id.number_absent {
        out.push_str(&format!("number absent: {reason:?}\n"));
    }
    if !id.name.is_empty() {
        out.push_str(&format!("name: {}\n", id.name));
    }
    if let Some(t) = id.time {
        out.push_str(&format!(
            "time: {:02}-{:02} {:02}:{:02}\n",
            t.month, t.day, t.hour, t.minute
        ));
    }
    out
}
