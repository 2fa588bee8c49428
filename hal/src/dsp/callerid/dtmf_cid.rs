//! DTMF caller ID (ETSI EN 300 659-1 Annex B style, common on Chinese lines).
//!
//! The number is framed by a start code and an end code: `A<digits>C` (some
//! exchanges start with `D`), or `B<2 digits>C` when the number is withheld
//! (`B10C`) or unavailable (`B00C`); a few end with `#` instead of `C`.

use super::message::{AbsentReason, CallerId, CallerIdError};
use crate::dsp::dtmf::{DtmfGenerator, DtmfTiming, NotADtmfKey};

/// Tone and pause lengths the exchange uses for DTMF caller ID.
pub const TIMING: DtmfTiming = DtmfTiming {
    on_ms: 60,
    off_ms: 60,
    row_dbm0: -8.0,
    col_dbm0: -6.0,
};

/// The digit string an exchange sends for `id`.
pub fn encode(id: &CallerId) -> Result<heapless::String<32>, CallerIdError> {
    let mut s = heapless::String::new();
    let too_long = |_| CallerIdError::TooLong;
    if id.number.is_empty() {
        let code = match id.number_absent {
            Some(AbsentReason::Private) => "B10C",
            _ => "B00C",
        };
        s.push_str(code).map_err(too_long)?;
    } else {
        s.push('A').map_err(too_long)?;
        s.push_str(&id.number).map_err(too_long)?;
        s.push('C').map_err(too_long)?;
    }
    Ok(s)
}

/// A generator playing `id` as DTMF.
pub fn transmitter(id: &CallerId) -> Result<DtmfGenerator, CallerIdError> {
    let digits = encode(id)?;
    DtmfGenerator::new(&digits, TIMING)
        .map_err(|NotADtmfKey(_)| CallerIdError::BadField("number has a non-DTMF character"))
}

/// Parses the digits received (start code to end code inclusive, or without the
/// end code when the ring cut it off).
pub fn decode(digits: &str) -> Result<CallerId, CallerIdError> {
    let bad = || {
        let mut s = heapless::String::new();
        for c in digits.chars().take(32) {
            let _ = s.push(c);
        }
        CallerIdError::BadDtmf(s)
    };
    let body = digits.strip_suffix(['C', '#']).unwrap_or(digits);
    let (start, rest) = body.split_at_checked(1).ok_or_else(bad)?;
    if !rest.chars().all(|c| c.is_ascii_digit()) || rest.is_empty() {
        return Err(bad());
    }
    match start {
        "A" | "D" => CallerId::with_number(rest),
        "B" => {
            let reason = match rest {
                "10" => AbsentReason::Private,
                "00" => AbsentReason::Unavailable,
                _ => return Err(bad()),
            };
            Ok(CallerId {
                number_absent: Some(reason),
                ..CallerId::default()
            })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::dtmf::DtmfDetector;
    use proptest::prelude::*;

    #[test]
    fn framing_variants_decode() {
        assert_eq!(decode("A13800138000C").unwrap().number, "13800138000");
        assert_eq!(decode("D5551234#").unwrap().number, "5551234");
        assert_eq!(decode("A5551234").unwrap().number, "5551234");
        assert_eq!(
            decode("B10C").unwrap().number_absent,
            Some(AbsentReason::Private)
        );
        assert_eq!(
            decode("B00C").unwrap().number_absent,
            Some(AbsentReason::Unavailable)
        );
        for bad in ["", "C", "AC", "A12*3C", "B77C", "912C"] {
            assert!(
                matches!(decode(bad), Err(CallerIdError::BadDtmf(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tones_round_trip_through_the_detector() {
        let id = CallerId::with_number("02087654321").unwrap();
        let mut g = transmitter(&id).unwrap();
        let mut x = vec![0i16; 8000 * 2];
        let n = g.fill(&mut x);
        let digits = DtmfDetector::decode(&x[..n]);
        assert_eq!(digits, "A02087654321C");
        assert_eq!(decode(&digits).unwrap(), id);
        let anon = CallerId {
            number_absent: Some(AbsentReason::Private),
            ..CallerId::default()
        };
        assert_eq!(encode(&anon).unwrap(), "B10C");
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in "[0-9A-D*#]{0,40}") {
            let _ = decode(&s);
        }

        #[test]
        fn numbers_round_trip(n in "[0-9]{1,20}") {
            let id = CallerId::with_number(&n).unwrap();
            prop_assert_eq!(decode(&encode(&id).unwrap()).unwrap(), id);
        }
    }
}
