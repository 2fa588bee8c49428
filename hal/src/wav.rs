//! WAV files in and out of the line domain (8 kHz, 16-bit, mono): prompts and test
//! audio played into simulated lines, captures written out for inspection, and the
//! `tandem-sim dsp` tools.

use crate::dsp::LINE_RATE;
use crate::dsp::resample::{ResampleError, Resampler};
use std::path::Path;

/// Problems with a WAV file, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("WAV file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: hound::Error,
    },
    #[error(
        "WAV file {path}: {channels} channels × {bits}-bit {format:?}; use 16-bit PCM, mono or stereo"
    )]
    Format {
        path: String,
        channels: u16,
        bits: u16,
        format: hound::SampleFormat,
    },
    #[error("WAV file {path}: {source}")]
    Rate {
        path: String,
        #[source]
        source: ResampleError,
    },
}

/// Reads a 16-bit PCM WAV at 8, 16 or 48 kHz, mono or stereo, as 8 kHz mono.
pub fn read_line_audio(path: &Path) -> Result<Vec<i16>, WavError> {
    let shown = path.display().to_string();
    let io = |source| WavError::Io {
        path: shown.clone(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(io)?;
    let spec = reader.spec();
    if spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
        || !(1..=2).contains(&spec.channels)
    {
        return Err(WavError::Format {
            path: shown,
            channels: spec.channels,
            bits: spec.bits_per_sample,
            format: spec.sample_format,
        });
    }
    let raw: Vec<i16> = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(io)?;
    let mono: Vec<i16> = if spec.channels == 2 {
        raw.chunks_exact(2)
            .map(|c| ((i32::from(c[0]) + i32::from(c[1])) / 2) as i16)
            .collect()
    } else {
        raw
    };
    if spec.sample_rate == LINE_RATE {
        return Ok(mono);
    }
    let mut r = Resampler::new(spec.sample_rate, LINE_RATE).map_err(|source| WavError::Rate {
        path: shown,
        source,
    })?;
    let mut out = vec![0; r.output_len(mono.len())];
    let n = r.process(&mono, &mut out);
    out.truncate(n);
    Ok(out)
}

/// Writes 8 kHz mono 16-bit PCM.
pub fn write_line_audio(path: &Path, samples: &[i16]) -> Result<(), WavError> {
    let shown = path.display().to_string();
    let io = |source| WavError::Io {
        path: shown.clone(),
        source,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: LINE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(io)?;
    for &s in samples {
        w.write_sample(s).map_err(io)?;
    }
    w.finalize().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::dtmf::{DtmfDetector, DtmfGenerator, DtmfTiming};

    #[test]
    fn line_audio_round_trips_and_other_rates_are_converted() {
        let dir = tempfile::tempdir().unwrap();
        let x = DtmfGenerator::render("42#", DtmfTiming::default()).unwrap();
        let p = dir.path().join("a.wav");
        write_line_audio(&p, &x).unwrap();
        assert_eq!(read_line_audio(&p).unwrap(), x);

        // A 48 kHz stereo file of the same digits decodes after conversion.
        let mut up = Resampler::new(8000, 48000).unwrap();
        let mut wide = vec![0; up.output_len(x.len())];
        up.process(&x, &mut wide);
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let p48 = dir.path().join("b.wav");
        let mut w = hound::WavWriter::create(&p48, spec).unwrap();
        for &s in &wide {
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(DtmfDetector::decode(&read_line_audio(&p48).unwrap()), "42#");

        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let p44 = dir.path().join("c.wav");
        hound::WavWriter::create(&p44, spec)
            .unwrap()
            .finalize()
            .unwrap();
        assert!(matches!(read_line_audio(&p44), Err(WavError::Rate { .. })));
        let err = read_line_audio(&dir.path().join("missing.wav")).unwrap_err();
        assert!(err.to_string().contains("missing.wav"));
    }
}
