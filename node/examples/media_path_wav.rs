//! Runs a WAV file through the simulated media path (Opus encode → datagrams →
//! seeded impairment → jitter buffer → decode) and writes what the far end hears,
//! time-aligned with the input, for listening tests and PESQ.
//!
//! ```text
//! cargo run --release -p tandem-node --example media_path_wav -- \
//!     in_8k_mono.wav out.wav <loss %> [jitter ms] [seed] [complexity] [bitrate bps]
//! ```

use std::process::ExitCode;

use tandem_node::media::analysis::delay_by_correlation;
use tandem_node::media::impair::Impairment;
use tandem_node::media::loopback::{LoopbackConfig, run};
use tandem_node::media::{CodecConfig, SampleRate};

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("media_path_wav: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, loss, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: media_path_wav IN.wav OUT.wav LOSS_PERCENT [JITTER_MS] [SEED] [COMPLEXITY] [BITRATE]"
                .into(),
        );
    };
    let loss: f64 = loss.parse().map_err(|e| format!("loss {loss:?}: {e}"))?;
    let jitter_ms: u64 = match rest.first() {
        Some(j) => j.parse().map_err(|e| format!("jitter {j:?}: {e}"))?,
        None => 0,
    };
    let seed: u64 = match rest.get(1) {
        Some(s) => s.parse().map_err(|e| format!("seed {s:?}: {e}"))?,
        None => 1,
    };
    let complexity: Option<u8> = match rest.get(2) {
        Some(c) => Some(c.parse().map_err(|e| format!("complexity {c:?}: {e}"))?),
        None => None,
    };
    let bitrate: Option<u32> = match rest.get(3) {
        Some(b) => Some(b.parse().map_err(|e| format!("bitrate {b:?}: {e}"))?),
        None => None,
    };
    let mut reader = hound::WavReader::open(input).map_err(|e| format!("{input}: {e}"))?;
    let spec = reader.spec();
    let rate = match (spec.sample_rate, spec.channels, spec.bits_per_sample) {
        (8000, 1, 16) => SampleRate::Narrowband,
        (16000, 1, 16) => SampleRate::Wideband,
        other => {
            return Err(format!(
                "{input}: need 8 or 16 kHz mono 16-bit, got {other:?}"
            ));
        }
    };
    let pcm: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{input}: {e}"))?;
    let mut codec = CodecConfig::voice(rate);
    if let Some(c) = complexity {
        codec.complexity = c;
    }
    if let Some(b) = bitrate {
        codec.bitrate_bps = b;
    }
    let mut cfg = LoopbackConfig::clean(codec, rate);
    cfg.impairment = Impairment {
        loss: loss / 100.0,
        jitter_us: jitter_ms * 1000,
        ..Impairment::default()
    };
    cfg.seed = seed;
    let report = run(&cfg, &pcm).map_err(|e| e.to_string())?;
    let (lag, corr) = delay_by_correlation(&pcm, &report.output, rate.hz() as usize / 4);
    let end = (lag + pcm.len()).min(report.output.len());
    let aligned = &report.output[lag..end];
    let mut writer =
        hound::WavWriter::create(output, spec).map_err(|e| format!("{output}: {e}"))?;
    for &s in aligned {
        writer
            .write_sample(s)
            .map_err(|e| format!("{output}: {e}"))?;
    }
    writer.finalize().map_err(|e| format!("{output}: {e}"))?;
    eprintln!(
        "{} frames, delay {:.1} ms, correlation {corr:.3}, stats {:?}",
        report.sources.len(),
        lag as f64 * 1000.0 / f64::from(rate.hz()),
        report.stats
    );
    Ok(())
}
