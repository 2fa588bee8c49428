//! G.711 companding (A-law for E1 and China, µ-law for North America).
//!
//! Bit-exact with the ITU-T G.191 reference implementation, so audio that crosses
//! the gateway decodes to the same samples any conformant exchange would produce.
//! Both directions work on 16-bit left-justified linear PCM, like G.191.

/// Expanded value of every A-law code, built once at compile time so decoding a
/// frame is one table load per sample.
static ALAW_TO_LINEAR: [i16; 256] = build_alaw_table();
/// Expanded value of every µ-law code.
static ULAW_TO_LINEAR: [i16; 256] = build_ulaw_table();

const fn alaw_expand(code: u8) -> i16 {
    let a = code ^ 0x55;
    let seg = ((a >> 4) & 0x07) as i32;
    let mut t = ((a & 0x0F) as i32) << 4;
    t += if seg == 0 { 8 } else { 0x108 };
    if seg > 1 {
        t <<= seg - 1;
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

const fn ulaw_expand(code: u8) -> i16 {
    let u = !code;
    let exp = (u >> 4) & 0x07;
    let t = ((((u & 0x0F) as i32) << 3) + 0x84) << exp;
    if u & 0x80 != 0 {
        (0x84 - t) as i16
    } else {
        (t - 0x84) as i16
    }
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_expand(code as u8);
        code += 1;
    }
    table
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_expand(code as u8);
        code += 1;
    }
    table
}

/// Which companding law a line uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Law {
    /// E1, Europe, China.
    Alaw,
    /// T1, North America, Japan.
    Ulaw,
}

/// Magnitude in G.191's one's-complement convention: negative samples are
/// inverted, not negated, which is what makes the codes bit-exact with G.191.
#[inline]
fn ones_complement_magnitude(x: i16) -> (u16, bool) {
    if x >= 0 {
        (x as u16, true)
    } else {
        (!x as u16, false)
    }
}

/// Compresses one sample to A-law.
#[inline]
pub fn alaw_encode(x: i16) -> u8 {
    let (mag, positive) = ones_complement_magnitude(x);
    let ix = mag >> 4; // 0..=2047
    let code = if ix < 16 {
        ix
    } else {
        let exp = 16 - ix.leading_zeros() as u16 - 4; // 1..=7
        (exp << 4) | ((ix >> (exp - 1)) & 0x0F)
    };
    let sign = if positive { 0x80 } else { 0 };
    (code as u8 | sign) ^ 0x55
}

/// Compresses one sample to µ-law.
#[inline]
pub fn ulaw_encode(x: i16) -> u8 {
    let (mag, positive) = ones_complement_magnitude(x);
    let biased = ((mag >> 2) + 33).min(0x1FFF);
    let seg = 16 - biased.leading_zeros() as u16 - 6; // 0..=7
    let code = !((seg << 4) | ((biased >> (seg + 1)) & 0x0F)) as u8 & 0x7F;
    if positive { code | 0x80 } else { code }
}

/// Expands one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TO_LINEAR[code as usize]
}

/// Expands one µ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TO_LINEAR[code as usize]
}

impl Law {
    /// Compresses a frame; `out` must be at least as long as `pcm` (extra is left alone).
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) {
        let f = match self {
            Law::Alaw => alaw_encode,
            Law::Ulaw => ulaw_encode,
        };
        for (o, &x) in out.iter_mut().zip(pcm) {
            *o = f(x);
        }
    }

    /// Expands a frame; `out` must be at least as long as `codes`.
    pub fn decode(self, codes: &[u8], out: &mut [i16]) {
        let table = match self {
            Law::Alaw => &ALAW_TO_LINEAR,
            Law::Ulaw => &ULAW_TO_LINEAR,
        };
        for (o, &c) in out.iter_mut().zip(codes) {
            *o = table[c as usize];
        }
    }

    /// The code a silent (all-zero) channel carries: idle fill for E1/TDM slots.
    pub fn silence(self) -> u8 {
        match self {
            Law::Alaw => 0xD5,
            Law::Ulaw => 0xFF,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Reference: a line-by-line transcription of G.191's `g711.c`
    //! (`alaw_compress`, `alaw_expand`, `ulaw_compress`, `ulaw_expand`), written
    //! with its loops and shifts rather than this module's formulation.
    use super::*;
    use proptest::prelude::*;

    fn g191_alaw_compress(lin: i16) -> u8 {
        let mut ix: i16 = if lin < 0 { (!lin) >> 4 } else { lin >> 4 };
        if ix > 15 {
            let mut iexp: i16 = 1;
            while ix > 16 + 15 {
                ix >>= 1;
                iexp += 1;
            }
            ix -= 16;
            ix += iexp << 4;
        }
        if lin >= 0 {
            ix |= 0x0080;
        }
        (ix ^ 0x0055) as u8
    }

    fn g191_alaw_expand(log: u8) -> i16 {
        let log = log as i16;
        let mut ix = log ^ 0x0055;
        ix &= 0x007F;
        let iexp = ix >> 4;
        let mut mant = ix & 0x000F;
        if iexp > 0 {
            mant += 16;
        }
        mant = (mant << 4) + 0x0008;
        if iexp > 1 {
            mant <<= iexp - 1;
        }
        if log > 127 { mant } else { -mant }
    }

    fn g191_ulaw_compress(lin: i16) -> u8 {
        let mut absno: i16 = if lin < 0 {
            ((!lin) >> 2) + 33
        } else {
            (lin >> 2) + 33
        };
        if absno > 0x1FFF {
            absno = 0x1FFF;
        }
        let mut i = absno >> 6;
        let mut segno: i16 = 1;
        while i != 0 {
            segno += 1;
            i >>= 1;
        }
        let high_nibble = 0x0008 - segno;
        let mut low_nibble = (absno >> segno) & 0x000F;
        low_nibble = 0x000F - low_nibble;
        let mut log = (high_nibble << 4) | low_nibble;
        if lin >= 0 {
            log |= 0x0080;
        }
        log as u8
    }

    fn g191_ulaw_expand(log: u8) -> i16 {
        let log = log as i16;
        let sign: i16 = if log < 0x0080 { -1 } else { 1 };
        let mut mantissa = !log;
        let exponent = (mantissa >> 4) & 0x0007;
        let segment = exponent + 1;
        mantissa &= 0x000F;
        let step: i16 = 4 << segment;
        sign * ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33)
    }

    #[test]
    fn all_65536_inputs_compress_like_g191() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(alaw_encode(x), g191_alaw_compress(x), "A-law {x}");
            assert_eq!(ulaw_encode(x), g191_ulaw_compress(x), "µ-law {x}");
        }
    }

    #[test]
    fn all_256_codes_expand_like_g191() {
        for c in 0..=255u8 {
            assert_eq!(alaw_decode(c), g191_alaw_expand(c), "A-law {c:#04x}");
            assert_eq!(ulaw_decode(c), g191_ulaw_expand(c), "µ-law {c:#04x}");
        }
    }

    #[test]
    fn table_anchor_values_from_g711() {
        // G.711 Tables 1 and 2: smallest positive step and the segment ends.
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(Law::Alaw.silence(), alaw_encode(0));
        assert_eq!(Law::Ulaw.silence(), ulaw_encode(0));
    }

    #[test]
    fn codes_survive_a_round_trip_and_are_monotonic() {
        for c in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(c)), c);
            // µ-law has two zeros (0x7F and 0xFF); both expand to 0, which encodes as 0xFF.
            if c != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(c)), c);
            }
        }
        let mut prev_a = alaw_decode(alaw_encode(i16::MIN));
        let mut prev_u = ulaw_decode(ulaw_encode(i16::MIN));
        for x in i16::MIN..=i16::MAX {
            let a = alaw_decode(alaw_encode(x));
            let u = ulaw_decode(ulaw_encode(x));
            assert!(a >= prev_a && u >= prev_u, "not monotonic at {x}");
            prev_a = a;
            prev_u = u;
        }
    }

    proptest! {
        #[test]
        fn frame_codec_matches_sample_codec(pcm in proptest::collection::vec(any::<i16>(), 0..400)) {
            for law in [Law::Alaw, Law::Ulaw] {
                let mut codes = vec![0u8; pcm.len()];
                let mut back = vec![0i16; pcm.len()];
                law.encode(&pcm, &mut codes);
                law.decode(&codes, &mut back);
                for ((&x, &c), &y) in pcm.iter().zip(&codes).zip(&back) {
                    let (enc, dec) = match law {
                        Law::Alaw => (alaw_encode(x), alaw_decode(c)),
                        Law::Ulaw => (ulaw_encode(x), ulaw_decode(c)),
                    };
                    prop_assert_eq!(c, enc);
                    prop_assert_eq!(y, dec);
                    // Quantisation error stays within half a step of the largest segment.
                    prop_assert!((i32::from(x) - i32::from(y)).abs() <= 1024);
                }
            }
        }
    }
}
