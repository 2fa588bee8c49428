//! Board descriptions: which lines, spans and seats a gateway box has.
//!
//! A field tech picks the file matching the hardware (`board-configs/*.toml`); the
//! gateway reads it at start-up and reports the resulting inventory to the
//! coordinator, so the inventory an administrator sees is the one the box drives.

use crate::dsp::g711::Law;
use crate::dsp::tones::TonePlan;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// Errors reading a board file; each names the file and the problem so a field tech
/// can fix the file without reading source code.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("cannot read board file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("board file {path} is not valid TOML for a board: {message}")]
    Parse { path: String, message: String },
    #[error("board file {path}: {message}")]
    Invalid { path: String, message: String },
    /// A span setting is out of range or contradicts another one.
    #[error("board file {path}: span {span:?}: {field} {problem}")]
    SpanField {
        path: String,
        span: String,
        field: &'static str,
        problem: String,
    },
}

/// Which driver family backs the board's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Simulated exchange and phones: demo, tests, benchmarks.
    Sim,
    /// ALSA audio over a TDM bus plus SLIC/DAA chips on SPI.
    Alsa,
}

/// The kind of an analog port, seen from the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// Faces the exchange: the gateway acts as a phone.
    Fxo,
    /// Faces an analog phone: the gateway acts as the exchange.
    Fxs,
}

/// One analog port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    pub id: String,
    pub kind: PortKind,
    /// TDM slot carrying this port's audio on ALSA boards.
    #[serde(default)]
    pub tdm_slot: Option<u16>,
}

/// One E1 span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanConfig {
    pub id: String,
    /// Voice timeslots in use (30 with CAS, 31 with PRI).
    #[serde(default = "default_timeslots")]
    pub timeslots: u8,
    #[serde(default)]
    pub signalling: Signalling,
    /// Whether to run CRC-4 multiframing (falls back automatically if the far end
    /// does not).
    #[serde(default = "default_true")]
    pub crc4: bool,
    /// First TDM slot of this span's channels on ALSA boards.
    #[serde(default)]
    pub tdm_base_slot: Option<u16>,
    /// Register signalling on the CAS channels: how the far end passes the
    /// dialled and calling numbers. `none` (the default) is line signalling
    /// only, so E1 callers have no number.
    #[serde(default)]
    pub register: Register,
    /// MFC/R2: digits of the dialled number (DNIS) the far end sends. The China
    /// variant has no end-of-number signal, so the length must be known (4 is
    /// common on PBX trunks); a shorter number ends after the 5 s MF timer.
    #[serde(default = "default_dnis_digits")]
    pub dnis_digits: u8,
    /// MFC/R2: most caller-number (ANI) digits asked for; the far end usually
    /// ends sooner with signal I-15.
    #[serde(default = "default_ani_max_digits")]
    pub ani_max_digits: u8,
}

/// Register signalling on a CAS span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Register {
    /// Line signalling only: a seizure is a call without numbers.
    #[default]
    None,
    /// MFC/R2, China variant (compelled two-out-of-six tones in the timeslot).
    MfcR2China,
}

/// What an MFC/R2 channel needs from its span's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R2Settings {
    /// DNIS length.
    pub dnis_digits: u8,
    /// Most ANI digits asked for.
    pub ani_max_digits: u8,
}

/// Longest DNIS and ANI the gateway collects (E.164 numbers are at most 15
/// digits; the margin covers national prefixes).
pub const R2_MAX_DIGITS: u8 = 20;

fn default_dnis_digits() -> u8 {
    4
}

fn default_ani_max_digits() -> u8 {
    R2_MAX_DIGITS
}

impl SpanConfig {
    /// The span's MFC/R2 settings, when it runs MFC/R2.
    pub fn r2(&self) -> Option<R2Settings> {
        (self.register == Register::MfcR2China).then_some(R2Settings {
            dnis_digits: self.dnis_digits,
            ani_max_digits: self.ani_max_digits,
        })
    }

    fn validate(&self, origin: &str) -> Result<(), BoardError> {
        let bad = |field: &'static str, problem: String| BoardError::SpanField {
            path: origin.to_owned(),
            span: self.id.clone(),
            field,
            problem,
        };
        for (field, value) in [
            ("dnis_digits", self.dnis_digits),
            ("ani_max_digits", self.ani_max_digits),
        ] {
            if !(1..=R2_MAX_DIGITS).contains(&value) {
                return Err(bad(field, format!("is {value}; use 1 to {R2_MAX_DIGITS}")));
            }
        }
        if self.register != Register::None && self.signalling != Signalling::Cas {
            return Err(bad(
                "register",
                "needs signalling = \"cas\" (MFC/R2 rides on CAS)".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Signalling on an E1 span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signalling {
    /// Channel-associated signalling in TS16 (MFC/R2 in China).
    #[default]
    Cas,
    /// ISDN PRI (Q.931) in TS16.
    Pri,
}

fn default_true() -> bool {
    true
}

fn default_timeslots() -> u8 {
    30
}

/// One headset seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatConfig {
    pub id: String,
    /// ALSA device name, or "sim".
    #[serde(default = "default_device")]
    pub device: String,
    /// 8000 (narrowband) or 16000 (wideband).
    #[serde(default = "default_seat_rate")]
    pub sample_rate: u32,
}

fn default_device() -> String {
    "sim".to_owned()
}

fn default_seat_rate() -> u32 {
    16_000
}

/// The TDM audio interface the line chips' PCM bus is wired to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdmConfig {
    /// ALSA PCM name of the SoC's I2S/TDM interface.
    pub device: String,
    /// Slots per frame on the bus (one per line channel).
    pub slots: u16,
    /// Samples per ALSA period (160 = 20 ms at 8 kHz).
    #[serde(default = "default_period")]
    pub period: u32,
}

fn default_period() -> u32 {
    160
}

/// Chip families with drivers (or planned drivers) in `hal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChipKind {
    /// Silicon Labs Si3050 DAA (FXO), one line per chip.
    Si3050,
    /// Silicon Labs Si3217x ProSLIC (FXS), one line per chip.
    Si3217x,
    /// Silicon Labs Si3226x ProSLIC (FXS), two lines per chip.
    Si3226x,
    /// Maxim DS26518 octal E1/T1 framer.
    Ds26518,
}

impl ChipKind {
    /// What the chip drives and how many of them.
    fn serves(self) -> (&'static str, usize) {
        match self {
            ChipKind::Si3050 => ("fxo", 1),
            ChipKind::Si3217x => ("fxs", 1),
            ChipKind::Si3226x => ("fxs", 2),
            ChipKind::Ds26518 => ("span", 8),
        }
    }
}

/// One chip on an SPI bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiChipConfig {
    /// spidev node, e.g. "/dev/spidev0.0".
    pub bus: String,
    pub chip: ChipKind,
    #[serde(default = "default_spi_hz")]
    pub max_hz: u32,
    /// Ids of the ports or spans this chip drives, in channel order.
    pub serves: Vec<String>,
    /// GPIO line of the chip's interrupt output, if wired.
    #[serde(default)]
    pub interrupt_gpio: Option<u32>,
    /// GPIO line of the chip's reset input, if wired.
    #[serde(default)]
    pub reset_gpio: Option<u32>,
}

fn default_spi_hz() -> u32 {
    1_000_000
}

/// GPIO lines that are not tied to one chip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioConfig {
    /// gpiochip device.
    pub chip: String,
    /// Power-fail bypass relay (FXO straight to FXS when the box is down).
    #[serde(default)]
    pub bypass_relay: Option<u32>,
    /// LEDs by name ("power", "wan", "line1", ...).
    #[serde(default)]
    pub leds: std::collections::BTreeMap<String, u32>,
}

/// Hardware watchdog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchdogConfig {
    pub device: String,
    pub timeout_s: u32,
}

/// A whole board file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardConfig {
    /// Board name, shown in the inventory.
    pub name: String,
    /// CPU architecture the image is built for ("aarch64", "armv7", "x86_64", "any").
    pub arch: String,
    /// Driver family for the ports.
    pub backend: Backend,
    /// Analog ports (FXO and FXS).
    #[serde(default)]
    pub ports: Vec<PortConfig>,
    /// E1 spans.
    #[serde(default)]
    pub spans: Vec<SpanConfig>,
    /// Headset seats on the box.
    #[serde(default)]
    pub seats: Vec<SeatConfig>,
    /// National tone plan ("china", "itu", "north-america").
    #[serde(default = "default_plan")]
    pub tone_plan: String,
    /// Companding law on the line side.
    #[serde(default = "default_law")]
    pub law: Law,
    /// TDM audio interface (required for ALSA boards).
    #[serde(default)]
    pub tdm: Option<TdmConfig>,
    /// Line and framer chips on SPI.
    #[serde(default)]
    pub spi: Vec<SpiChipConfig>,
    /// GPIO lines not tied to a chip (bypass relay, LEDs).
    #[serde(default)]
    pub gpio: Option<GpioConfig>,
    /// Hardware watchdog the gateway must feed.
    #[serde(default)]
    pub watchdog: Option<WatchdogConfig>,
}

fn default_plan() -> String {
    "china".to_owned()
}

fn default_law() -> Law {
    Law::Alaw
}

impl BoardConfig {
    /// Reads and validates a board file.
    pub fn load(path: &Path) -> Result<Self, BoardError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BoardError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses and validates board TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, BoardError> {
        let board: BoardConfig = toml::from_str(text).map_err(|e| BoardError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        board.validate(origin)?;
        Ok(board)
    }

    fn validate(&self, origin: &str) -> Result<(), BoardError> {
        let invalid = |message: String| BoardError::Invalid {
            path: origin.to_owned(),
            message,
        };
        let mut ids = HashSet::new();
        let all_ids = self
            .ports
            .iter()
            .map(|p| &p.id)
            .chain(self.spans.iter().map(|s| &s.id))
            .chain(self.seats.iter().map(|s| &s.id));
        for id in all_ids {
            if id.is_empty() {
                return Err(invalid("an id is empty".to_owned()));
            }
            if !ids.insert(id) {
                return Err(invalid(format!("id {id:?} is used twice")));
            }
        }
        if let Some(span) = self.spans.iter().find(|s| !(1..=31).contains(&s.timeslots)) {
            return Err(invalid(format!(
                "span {:?} has {} timeslots; an E1 carries 1 to 31",
                span.id, span.timeslots
            )));
        }
        if let Some(seat) = self
            .seats
            .iter()
            .find(|s| s.sample_rate != 8_000 && s.sample_rate != 16_000)
        {
            return Err(invalid(format!(
                "seat {:?} has sample_rate {}; use 8000 or 16000",
                seat.id, seat.sample_rate
            )));
        }
        if let Some(span) = self
            .spans
            .iter()
            .find(|s| s.signalling == Signalling::Cas && s.timeslots > 30)
        {
            return Err(invalid(format!(
                "span {:?} uses CAS, which leaves 30 voice timeslots, not {}",
                span.id, span.timeslots
            )));
        }
        for span in &self.spans {
            span.validate(origin)?;
        }
        if TonePlan::by_name(&self.tone_plan).is_none() {
            return Err(invalid(format!(
                "tone_plan {:?} is unknown; use china, itu or north-america",
                self.tone_plan
            )));
        }
        self.validate_hardware().map_err(invalid)
    }

    /// Checks the hardware sections against the ports: every port of a real board
    /// has a TDM slot and exactly one chip of the right kind, and no GPIO line or
    /// TDM slot is used twice.
    fn validate_hardware(&self) -> Result<(), String> {
        for chip in &self.spi {
            let (serves, max) = chip.chip.serves();
            if chip.serves.is_empty() || chip.serves.len() > max {
                return Err(format!(
                    "SPI chip {:?} on {} serves {} ports; it drives 1 to {max}",
                    chip.chip,
                    chip.bus,
                    chip.serves.len()
                ));
            }
            for id in &chip.serves {
                let kind = if let Some(p) = self.ports.iter().find(|p| &p.id == id) {
                    match p.kind {
                        PortKind::Fxo => "fxo",
                        PortKind::Fxs => "fxs",
                    }
                } else if self.spans.iter().any(|s| &s.id == id) {
                    "span"
                } else {
                    return Err(format!(
                        "SPI chip on {} serves {id:?}, which is not a port or span",
                        chip.bus
                    ));
                };
                if kind != serves {
                    return Err(format!(
                        "{id:?} is an {kind} but chip {:?} drives {serves}",
                        chip.chip
                    ));
                }
            }
        }
        let mut gpios = HashSet::new();
        let chip_lines = self
            .spi
            .iter()
            .flat_map(|c| [c.interrupt_gpio, c.reset_gpio])
            .flatten();
        let other_lines = self
            .gpio
            .iter()
            .flat_map(|g| g.bypass_relay.into_iter().chain(g.leds.values().copied()));
        for line in chip_lines.chain(other_lines) {
            if !gpios.insert(line) {
                return Err(format!("GPIO line {line} is used twice"));
            }
        }
        if let Some(w) = &self.watchdog
            && !(1..=600).contains(&w.timeout_s)
        {
            return Err(format!("watchdog timeout {} s; use 1 to 600", w.timeout_s));
        }
        if self.backend == Backend::Sim {
            return Ok(());
        }
        let Some(tdm) = &self.tdm else {
            return Err("an ALSA board needs a [tdm] section".to_owned());
        };
        if !(40..=480).contains(&tdm.period) {
            return Err(format!(
                "tdm period {} samples; use 40 to 480 (5 to 60 ms)",
                tdm.period
            ));
        }
        let mut slots = HashSet::new();
        for p in &self.ports {
            let slot = p
                .tdm_slot
                .ok_or_else(|| format!("port {:?} has no tdm_slot", p.id))?;
            if slot >= tdm.slots || !slots.insert(slot) {
                return Err(format!(
                    "port {:?}: tdm_slot {slot} is out of range or used twice",
                    p.id
                ));
            }
            let drivers = self.spi.iter().filter(|c| c.serves.contains(&p.id)).count();
            if drivers != 1 {
                return Err(format!(
                    "port {:?} is driven by {drivers} SPI chips; it needs exactly one",
                    p.id
                ));
            }
        }
        for s in &self.spans {
            let base = s
                .tdm_base_slot
                .ok_or_else(|| format!("span {:?} has no tdm_base_slot", s.id))?;
            for slot in base..base + u16::from(s.timeslots) {
                if slot >= tdm.slots || !slots.insert(slot) {
                    return Err(format!(
                        "span {:?}: TDM slot {slot} is out of range or used twice",
                        s.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// Number of ports of one kind.
    pub fn count(&self, kind: PortKind) -> usize {
        self.ports.iter().filter(|p| p.kind == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_board() {
        let board = BoardConfig::parse(
            r#"
            name = "t"
            arch = "aarch64"
            backend = "sim"
            ports = [{ id = "fxo1", kind = "fxo" }, { id = "fxs1", kind = "fxs" }]
            spans = [{ id = "e1a" }]
            seats = [{ id = "seat1", sample_rate = 8000 }]
            "#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(board.count(PortKind::Fxo), 1);
        assert_eq!(board.count(PortKind::Fxs), 1);
        assert_eq!(board.spans[0].timeslots, 30);
        assert_eq!(board.seats[0].device, "sim");
    }

    #[test]
    fn rejects_duplicate_ids_and_bad_values() {
        let dup = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\nports=[{id='a',kind='fxo'},{id='a',kind='fxs'}]",
            "d.toml",
        );
        assert!(
            matches!(dup, Err(BoardError::Invalid { message, .. }) if message.contains("\"a\" is used twice"))
        );
        let span = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\nspans=[{id='e',timeslots=40}]",
            "s.toml",
        );
        assert!(matches!(span, Err(BoardError::Invalid { .. })));
        let unknown = BoardConfig::parse("name='t'\narch='any'\nbackend='sim'\nfoo=1", "u.toml");
        assert!(matches!(unknown, Err(BoardError::Parse { .. })));
    }

    fn alsa_board(extra: &str) -> Result<BoardConfig, BoardError> {
        let text = format!(
            r#"
            name = "hw"
            arch = "armv7"
            backend = "alsa"
            ports = [{{ id = "fxo1", kind = "fxo", tdm_slot = 0 }}, {{ id = "fxs1", kind = "fxs", tdm_slot = 1 }}]
            {extra}
            "#
        );
        BoardConfig::parse(&text, "hw.toml")
    }

    fn message(r: Result<BoardConfig, BoardError>) -> String {
        match r {
            Err(BoardError::Invalid { message, .. }) => message,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    const GOOD_HW: &str = r#"
        [tdm]
        device = "hw:0"
        slots = 2
        [[spi]]
        bus = "/dev/spidev0.0"
        chip = "si3050"
        serves = ["fxo1"]
        interrupt_gpio = 4
        [[spi]]
        bus = "/dev/spidev0.1"
        chip = "si3217x"
        serves = ["fxs1"]
        [gpio]
        chip = "/dev/gpiochip0"
        bypass_relay = 5
        [watchdog]
        device = "/dev/watchdog"
        timeout_s = 10
    "#;

    #[test]
    fn hardware_sections_are_checked_against_the_ports() {
        let board = alsa_board(GOOD_HW).unwrap();
        assert_eq!(board.spi.len(), 2);
        assert_eq!(board.tdm.as_ref().map(|t| t.period), Some(160));
        assert_eq!(board.law, Law::Alaw);
        assert!(message(alsa_board("")).contains("needs a [tdm] section"));
        let wrong_chip = GOOD_HW.replace("chip = \"si3217x\"", "chip = \"si3050\"");
        assert!(
            message(alsa_board(&wrong_chip))
                .contains("\"fxs1\" is an fxs but chip Si3050 drives fxo")
        );
        let unserved = GOOD_HW.replace("serves = [\"fxs1\"]", "serves = [\"fxo1\"]");
        assert!(message(alsa_board(&unserved)).contains("is an fxo but chip Si3217x drives fxs"));
        let dup_gpio = GOOD_HW.replace("bypass_relay = 5", "bypass_relay = 4");
        assert!(message(alsa_board(&dup_gpio)).contains("GPIO line 4 is used twice"));
        let few_slots = GOOD_HW.replace("slots = 2", "slots = 1");
        assert!(message(alsa_board(&few_slots)).contains("tdm_slot 1 is out of range"));
        let ghost = GOOD_HW.replace("serves = [\"fxo1\"]", "serves = [\"fxo9\"]");
        assert!(message(alsa_board(&ghost)).contains("\"fxo9\", which is not a port or span"));
        let dog = GOOD_HW.replace("timeout_s = 10", "timeout_s = 0");
        assert!(message(alsa_board(&dog)).contains("watchdog timeout 0 s"));
        let plan = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\ntone_plan='mars'",
            "p.toml",
        );
        assert!(message(plan).contains("tone_plan \"mars\" is unknown"));
        let cas = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\nspans=[{id='e',timeslots=31}]",
            "c.toml",
        );
        assert!(message(cas).contains("uses CAS"));
        let pri = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\nspans=[{id='e',timeslots=31,signalling='pri'}]",
            "c.toml",
        );
        assert!(pri.is_ok());
    }

    #[test]
    fn mfc_r2_is_off_by_default_and_its_settings_are_checked_by_name() {
        let parse = |span: &str| {
            BoardConfig::parse(
                &format!("name='t'\narch='any'\nbackend='sim'\nspans=[{{{span}}}]"),
                "c.toml",
            )
        };
        let plain = parse("id='e'").unwrap();
        assert_eq!(plain.spans[0].register, Register::None);
        assert_eq!(plain.spans[0].r2(), None);
        let r2 = parse("id='e',register='mfc-r2-china'").unwrap();
        assert_eq!(
            r2.spans[0].r2(),
            Some(R2Settings {
                dnis_digits: 4,
                ani_max_digits: R2_MAX_DIGITS
            })
        );
        let r2 = parse("id='e',register='mfc-r2-china',dnis_digits=8").unwrap();
        assert_eq!(r2.spans[0].r2().map(|s| s.dnis_digits), Some(8));
        for (span, field) in [
            (
                "id='e',register='mfc-r2-china',dnis_digits=0",
                "dnis_digits",
            ),
            (
                "id='e',register='mfc-r2-china',ani_max_digits=21",
                "ani_max_digits",
            ),
            (
                "id='e',timeslots=31,signalling='pri',register='mfc-r2-china'",
                "register",
            ),
        ] {
            match parse(span) {
                Err(BoardError::SpanField { span, field: f, .. }) => {
                    assert_eq!((span.as_str(), f), ("e", field))
                }
                other => panic!("{span}: {other:?}"),
            }
        }
        assert!(matches!(
            parse("id='e',register='r2-mars'"),
            Err(BoardError::Parse { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = BoardConfig::parse(&text, "fuzz.toml");
        }
    }
}
