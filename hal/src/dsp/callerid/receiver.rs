//! Caller ID auto-detection: FSK and DTMF decoders listening side by side.

use super::dtmf_cid;
use super::fsk::FskReceiver;
use super::{CallerId, CallerIdError, CidStandard};
use crate::dsp::dtmf::DtmfDetector;
use crate::dsp::ms_to_samples;

/// A caller ID and how it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// What was decoded.
    pub id: CallerId,
    /// How it was signalled (worth logging per line: carriers differ by region).
    pub standard: CidStandard,
}

/// Silence after the last DTMF digit that closes a DTMF delivery whose end code
/// was lost.
const DTMF_GAP_MS: u32 = 500;

/// Runs on an FXO port from the polarity reversal or first ring until answer;
/// reports the first caller ID that decodes, whichever way it was sent.
#[derive(Debug, Clone)]
pub struct CallerIdReceiver {
    fsk: FskReceiver,
    dtmf: DtmfDetector,
    digits: heapless::String<32>,
    since_digit: usize,
}

impl Default for CallerIdReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl CallerIdReceiver {
    /// A receiver listening for every standard at once.
    pub fn new() -> Self {
        Self {
            fsk: FskReceiver::new(),
            dtmf: DtmfDetector::new(),
            digits: heapless::String::new(),
            since_digit: 0,
        }
    }

    /// Feeds line audio; `on_result` gets each complete delivery or decoding error.
    pub fn process(
        &mut self,
        samples: &[i16],
        mut on_result: impl FnMut(Result<Received, CallerIdError>),
    ) {
        self.fsk.process(samples, |m| {
            on_result(m.map(|(id, standard)| Received { id, standard }))
        });
        let mut closed = false;
        let digits = &mut self.digits;
        let mut got_digit = false;
        self.dtmf.process(samples, |d| {
            got_digit = true;
            // A start code opens a fresh delivery.
            if matches!(d, 'A' | 'B' | 'D') {
                digits.clear();
            }
            if digits.push(d).is_err() {
                digits.clear();
            }
            closed |= matches!(d, 'C' | '#') && digits.len() > 1;
        });
        if got_digit {
            self.since_digit = 0;
        } else {
            self.since_digit = self.since_digit.saturating_add(samples.len());
        }
        let timed_out = !self.digits.is_empty() && self.since_digit >= ms_to_samples(DTMF_GAP_MS);
        if closed || timed_out {
            on_result(self.take_dtmf());
        }
    }

    /// The ring started: a DTMF delivery still open is complete now.
    pub fn ring_started(&mut self) -> Option<Result<Received, CallerIdError>> {
        (!self.digits.is_empty()).then(|| self.take_dtmf())
    }

    fn take_dtmf(&mut self) -> Result<Received, CallerIdError> {
        let r = dtmf_cid::decode(&self.digits).map(|id| Received {
            id,
            standard: CidStandard::Dtmf,
        });
        self.digits.clear();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::callerid::fsk::FskTransmitter;

    fn run(x: &[i16]) -> Vec<Result<Received, CallerIdError>> {
        let mut rx = CallerIdReceiver::new();
        let mut out = Vec::new();
        for f in x.chunks(160) {
            rx.process(f, |r| out.push(r));
        }
        out
    }

    #[test]
    fn auto_detects_each_standard() {
        let id = CallerId::with_number("075512345678").unwrap();
        for std in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
            let mut x = vec![0i16; 1600];
            if std == CidStandard::Dtmf {
                let mut g = dtmf_cid::transmitter(&id).unwrap();
                let mut buf = vec![0i16; 16000];
                let n = g.fill(&mut buf);
                x.extend(&buf[..n]);
            } else {
                x.extend(FskTransmitter::render(&id, std, false).unwrap());
            }
            x.extend([0; 1600]);
            let got = run(&x);
            assert_eq!(
                got,
                vec![Ok(Received {
                    id: id.clone(),
                    standard: std
                })],
                "{std:?}"
            );
        }
    }

    #[test]
    fn dtmf_without_end_code_closes_on_gap_or_ring() {
        let x = crate::dsp::dtmf::DtmfGenerator::render("A123", dtmf_cid::TIMING).unwrap();
        let mut rx = CallerIdReceiver::new();
        let mut out = Vec::new();
        rx.process(&x, |r| out.push(r));
        assert!(out.is_empty());
        let got = rx.ring_started().unwrap().unwrap();
        assert_eq!(got.id.number, "123");
        assert!(rx.ring_started().is_none());
        let mut with_gap = x.clone();
        with_gap.extend([0; 8000]);
        assert_eq!(run(&with_gap).len(), 1);
    }
}
