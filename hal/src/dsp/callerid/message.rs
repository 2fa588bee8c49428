//! Caller ID messages: SDMF (type 0x04) and MDMF (type 0x80) as sent by Bell 202 and
//! ETSI V.23 exchanges, with the two's-complement checksum.

use std::fmt::Write as _;

/// Why a number or name is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbsentReason {
    /// Withheld by the caller ("P").
    Private,
    /// Out of area / unavailable ("O").
    Unavailable,
}

impl AbsentReason {
    fn code(self) -> u8 {
        match self {
            AbsentReason::Private => b'P',
            AbsentReason::Unavailable => b'O',
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        match c {
            b'P' => Some(AbsentReason::Private),
            b'O' => Some(AbsentReason::Unavailable),
            _ => None,
        }
    }
}

/// Month, day, hour, minute as the exchange sends them (no year, no seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DateTime {
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

impl DateTime {
    fn parse(b: &[u8]) -> Result<Self, CallerIdError> {
        let field = |i: usize| -> Result<u8, CallerIdError> {
            match (b.get(i), b.get(i + 1)) {
                (Some(&h), Some(&l)) if h.is_ascii_digit() && l.is_ascii_digit() => {
                    Ok((h - b'0') * 10 + (l - b'0'))
                }
                _ => Err(CallerIdError::BadField("date/time is not 8 digits")),
            }
        };
        if b.len() != 8 {
            return Err(CallerIdError::BadField("date/time is not 8 digits"));
        }
        let t = DateTime {
            month: field(0)?,
            day: field(2)?,
            hour: field(4)?,
            minute: field(6)?,
        };
        if !(1..=12).contains(&t.month)
            || !(1..=31).contains(&t.day)
            || t.hour > 23
            || t.minute > 59
        {
            return Err(CallerIdError::BadField("date/time out of range"));
        }
        Ok(t)
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}-{:02} {:02}:{:02}",
            self.month, self.day, self.hour, self.minute
        )
    }
}

/// Longest number carried (MDMF allows 20 digits in practice).
pub const MAX_NUMBER: usize = 24;
/// Longest name carried (ETSI allows 50 characters).
pub const MAX_NAME: usize = 50;

/// What a caller ID delivery says about the caller. Fixed-capacity strings so a
/// decoder never allocates on the audio path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    /// Calling number; empty when withheld or unknown (see `number_absent`).
    pub number: heapless::String<MAX_NUMBER>,
    /// Calling name (MDMF only); empty when not sent.
    pub name: heapless::String<MAX_NAME>,
    /// Exchange clock at the time of the call, when sent.
    pub time: Option<DateTime>,
    /// Why there is no number, when the exchange says.
    pub number_absent: Option<AbsentReason>,
    /// Why there is no name, when the exchange says.
    pub name_absent: Option<AbsentReason>,
}

/// Problems decoding caller ID; each says what was wrong with the line signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerIdError {
    #[error("caller ID message is truncated")]
    Truncated,
    #[error("caller ID message type {0:#04x} is not SDMF (0x04) or MDMF (0x80)")]
    UnknownType(u8),
    #[error("caller ID checksum mismatch")]
    BadChecksum,
    #[error("caller ID field invalid: {0}")]
    BadField(&'static str),
    #[error("caller ID field too long for its buffer")]
    TooLong,
    #[error("caller ID FSK framing error (stop bit missing) inside a message")]
    Framing,
    #[error("DTMF caller ID digits {0:?} do not form a number or absence code")]
    BadDtmf(heapless::String<32>),
}

/// Message type of a single-data-message-format delivery.
pub const SDMF: u8 = 0x04;
/// Message type of a multiple-data-message-format delivery.
pub const MDMF: u8 = 0x80;
const P_DATETIME: u8 = 0x01;
const P_NUMBER: u8 = 0x02;
const P_NUMBER_ABSENT: u8 = 0x04;
const P_NAME: u8 = 0x07;
const P_NAME_ABSENT: u8 = 0x08;

/// Largest encoded message: type, length, 255 bytes of body, checksum.
pub type MessageBytes = heapless::Vec<u8, 258>;

fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |a, &b| a.wrapping_add(b))
        .wrapping_neg()
}

fn text<const N: usize>(b: &[u8]) -> Result<heapless::String<N>, CallerIdError> {
    let mut s = heapless::String::new();
    for &c in b {
        // Caller ID text is 7-bit ASCII; anything else is shown as '?'.
        let c = if (0x20..0x7F).contains(&c) {
            c as char
        } else {
            '?'
        };
        s.push(c).map_err(|_| CallerIdError::TooLong)?;
    }
    Ok(s)
}

impl CallerId {
    /// Parses one complete message (type, length, body, checksum).
    pub fn parse(msg: &[u8]) -> Result<Self, CallerIdError> {
        let (&kind, rest) = msg.split_first().ok_or(CallerIdError::Truncated)?;
        if kind != SDMF && kind != MDMF {
            return Err(CallerIdError::UnknownType(kind));
        }
        let (&len, rest) = rest.split_first().ok_or(CallerIdError::Truncated)?;
        let len = usize::from(len);
        if rest.len() < len + 1 {
            return Err(CallerIdError::Truncated);
        }
        if checksum(&msg[..len + 2]) != msg[len + 2] {
            return Err(CallerIdError::BadChecksum);
        }
        let body = &rest[..len];
        if kind == SDMF {
            Self::parse_sdmf(body)
        } else {
            Self::parse_mdmf(body)
        }
    }

    fn parse_sdmf(body: &[u8]) -> Result<Self, CallerIdError> {
        if body.len() < 8 {
            return Err(CallerIdError::Truncated);
        }
        let mut id = CallerId {
            time: Some(DateTime::parse(&body[..8])?),
            ..CallerId::default()
        };
        let number = &body[8..];
        match number {
            [c] if AbsentReason::from_code(*c).is_some() => {
                id.number_absent = AbsentReason::from_code(*c);
            }
            _ => id.number = text(number)?,
        }
        Ok(id)
    }

    fn parse_mdmf(mut body: &[u8]) -> Result<Self, CallerIdError> {
        let mut id = CallerId::default();
        while let [kind, len, rest @ ..] = body {
            let len = usize::from(*len);
            let value = rest.get(..len).ok_or(CallerIdError::Truncated)?;
            match *kind {
                P_DATETIME => id.time = Some(DateTime::parse(value)?),
                P_NUMBER => id.number = text(value)?,
                P_NAME => id.name = text(value)?,
                P_NUMBER_ABSENT | P_NAME_ABSENT => {
                    let reason = value
                        .first()
                        .and_then(|&c| AbsentReason::from_code(c))
                        .ok_or(CallerIdError::BadField("absence reason is not P or O"))?;
                    if *kind == P_NUMBER_ABSENT {
                        id.number_absent = Some(reason);
                    } else {
                        id.name_absent = Some(reason);
                    }
                }
                // Unknown parameters (e.g. call type, redirection) are skipped as
                // the standards require.
                _ => {}
            }
            body = &rest[len..];
        }
        if !body.is_empty() {
            return Err(CallerIdError::Truncated);
        }
        Ok(id)
    }

    /// Encodes as MDMF (carries name and reasons), or SDMF when `sdmf` is set (time
    /// and number only; SDMF requires a time, so 01-01 00:00 stands in if absent).
    pub fn encode(&self, sdmf: bool) -> Result<MessageBytes, CallerIdError> {
        let mut out = MessageBytes::new();
        let put = |out: &mut MessageBytes, b: &[u8]| {
            out.extend_from_slice(b).map_err(|_| CallerIdError::TooLong)
        };
        let time = self.time.unwrap_or(DateTime {
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
        });
        let mut stamp: heapless::String<8> = heapless::String::new();
        write!(
            stamp,
            "{:02}{:02}{:02}{:02}",
            time.month, time.day, time.hour, time.minute
        )
        .map_err(|_| CallerIdError::BadField("date/time out of range"))?;
        if sdmf {
            put(&mut out, &[SDMF, 0])?;
            put(&mut out, stamp.as_bytes())?;
            match self.number_absent {
                Some(r) if self.number.is_empty() => put(&mut out, &[r.code()])?,
                _ => put(&mut out, self.number.as_bytes())?,
            }
        } else {
            put(&mut out, &[MDMF, 0])?;
            let param = |out: &mut MessageBytes, kind: u8, v: &[u8]| {
                put(out, &[kind, v.len() as u8])?;
                put(out, v)
            };
            if self.time.is_some() {
                param(&mut out, P_DATETIME, stamp.as_bytes())?;
            }
            if !self.number.is_empty() {
                param(&mut out, P_NUMBER, self.number.as_bytes())?;
            } else if let Some(r) = self.number_absent {
                param(&mut out, P_NUMBER_ABSENT, &[r.code()])?;
            }
            if !self.name.is_empty() {
                param(&mut out, P_NAME, self.name.as_bytes())?;
            } else if let Some(r) = self.name_absent {
                param(&mut out, P_NAME_ABSENT, &[r.code()])?;
            }
        }
        let len = out.len() - 2;
        out[1] = u8::try_from(len).map_err(|_| CallerIdError::TooLong)?;
        let sum = checksum(&out);
        put(&mut out, &[sum])?;
        Ok(out)
    }

    /// A caller ID with just a number (the common case for tests and the simulator).
    pub fn with_number(number: &str) -> Result<Self, CallerIdError> {
        Ok(CallerId {
            number: text(number.as_bytes())?,
            ..CallerId::default()
        })
    }

    /// Sets the name, failing if it does not fit.
    pub fn named(mut self, name: &str) -> Result<Self, CallerIdError> {
        self.name = text(name.as_bytes())?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_bellcore_sdmf_example() {
        // GR-30 style example: 0x04, len 0x12, "01011234" + "8005551212", checksum.
        let mut m = vec![0x04, 18];
        m.extend_from_slice(b"010112348005551212");
        m.push(checksum(&m));
        let id = CallerId::parse(&m).unwrap();
        assert_eq!(id.number, "8005551212");
        assert_eq!(
            id.time,
            Some(DateTime {
                month: 1,
                day: 1,
                hour: 12,
                minute: 34
            })
        );
        assert_eq!(id.time.unwrap().to_string(), "01-01 12:34");
        assert_eq!(
            m.iter().fold(0u8, |a, &b| a.wrapping_add(b)),
            0,
            "sum incl. checksum is 0"
        );
    }

    #[test]
    fn mdmf_round_trips_with_name_time_and_reasons() {
        let id = CallerId {
            time: Some(DateTime {
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
            }),
            name_absent: Some(AbsentReason::Private),
            ..CallerId::with_number("13800138000").unwrap()
        };
        let bytes = id.encode(false).unwrap();
        assert_eq!(bytes[0], MDMF);
        assert_eq!(CallerId::parse(&bytes).unwrap(), id);
        let anon = CallerId {
            number_absent: Some(AbsentReason::Unavailable),
            ..CallerId::default()
        };
        assert_eq!(CallerId::parse(&anon.encode(false).unwrap()).unwrap(), anon);
        let sdmf = CallerId {
            number_absent: Some(AbsentReason::Private),
            time: id.time,
            ..CallerId::default()
        };
        assert_eq!(CallerId::parse(&sdmf.encode(true).unwrap()).unwrap(), sdmf);
    }

    #[test]
    fn bad_messages_get_typed_errors() {
        let good = CallerId::with_number("123").unwrap().encode(false).unwrap();
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(CallerId::parse(&bad), Err(CallerIdError::BadChecksum));
        assert_eq!(
            CallerId::parse(&good[..good.len() - 1]),
            Err(CallerIdError::Truncated)
        );
        assert_eq!(
            CallerId::parse(&[0x55, 0, 0xAB]),
            Err(CallerIdError::UnknownType(0x55))
        );
        assert_eq!(CallerId::parse(&[]), Err(CallerIdError::Truncated));
        let mut m = vec![SDMF, 8];
        m.extend_from_slice(b"13011234");
        m.push(checksum(&m));
        assert_eq!(
            CallerId::parse(&m),
            Err(CallerIdError::BadField("date/time out of range"))
        );
        // MDMF parameter longer than the body.
        let mut m = vec![MDMF, 3, P_NUMBER, 5, b'1'];
        m.push(checksum(&m));
        assert_eq!(CallerId::parse(&m), Err(CallerIdError::Truncated));
        assert_eq!(
            CallerId::with_number(&"9".repeat(30)),
            Err(CallerIdError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = CallerId::parse(&bytes);
        }

        #[test]
        fn any_number_and_name_round_trip(number in "[0-9]{1,20}", name in "[ -~]{0,40}", sdmf: bool) {
            let id = CallerId::with_number(&number).unwrap().named(&name).unwrap();
            let back = CallerId::parse(&id.encode(sdmf).unwrap()).unwrap();
            prop_assert_eq!(&back.number, &id.number);
            if !sdmf {
                prop_assert_eq!(&back.name, &id.name);
            }
        }
    }
}
