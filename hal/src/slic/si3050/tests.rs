//! The driver against a register model of the chip that implements `SpiDevice`.

use super::*;
use embedded_hal::spi::{ErrorKind, ErrorType, Operation};
use std::sync::{Arc, Mutex};

/// Register-level model of an Si3050 with its line side.
struct Chip {
    regs: [u8; 64],
    /// Reads of register 11 before the isolation link reports up (None: never).
    link_after_reads: Option<u32>,
    link_reads: u32,
    line_side_powered: bool,
    writes: Vec<(u8, u8)>,
    fail: bool,
}

impl Chip {
    fn new(link_after_reads: Option<u32>) -> Self {
        let mut c = Self {
            regs: [0; 64],
            link_after_reads,
            link_reads: 0,
            line_side_powered: false,
            writes: Vec::new(),
            fail: false,
        };
        c.power_on_defaults();
        c
    }

    fn power_on_defaults(&mut self) {
        self.regs = [0; 64];
        self.regs[reg::DAA_CONTROL2 as usize] = 0x10; // PDL: line side powered down
        self.regs[reg::LINE_VOLTAGE as usize] = 48; // on-hook battery, normal polarity
        self.line_side_powered = false;
        self.link_reads = 0;
    }

    fn write(&mut self, r: u8, v: u8) {
        self.writes.push((r, v));
        match r {
            reg::CONTROL1 if v & SR != 0 => self.power_on_defaults(),
            reg::INT_SOURCE => self.regs[r as usize] &= v,
            reg::DAA_CONTROL1 => {
                let rdt = self.regs[r as usize] & RDT;
                self.regs[r as usize] = (v & !RDT) | rdt;
                // Going off hook draws loop current and drops the line voltage.
                if v & OH != 0 {
                    self.regs[reg::LOOP_CURRENT as usize] = 20;
                    self.regs[reg::LINE_VOLTAGE as usize] = 8;
                }
            }
            reg::DAA_CONTROL2 => {
                self.regs[r as usize] = v;
                self.line_side_powered = v & 0x10 == 0;
            }
            _ => self.regs[r as usize] = v,
        }
    }

    fn read(&mut self, r: u8) -> u8 {
        if r == reg::REVISION && self.line_side_powered {
            self.link_reads += 1;
            if self.link_after_reads.is_some_and(|n| self.link_reads > n) {
                self.regs[reg::REVISION as usize] = 0x35; // Si3019 line side, rev 5
                self.regs[reg::LINE_STATUS as usize] |= FDT;
            }
        }
        self.regs[r as usize]
    }

    fn raise(&mut self, bits: u8) {
        self.regs[reg::INT_SOURCE as usize] |= bits;
    }

    fn irq_asserted(&self) -> bool {
        self.regs[reg::CONTROL2 as usize] & INTE != 0
            && self.regs[reg::INT_SOURCE as usize] & self.regs[reg::INT_MASK as usize] != 0
    }

    // The telephone line, from the exchange's side.
    fn ring(&mut self, on: bool) {
        let r5 = &mut self.regs[reg::DAA_CONTROL1 as usize];
        if on {
            *r5 |= RDT;
            self.raise(int::RDTI);
        } else {
            *r5 &= !RDT;
        }
    }

    fn reverse_polarity(&mut self) {
        let v = self.regs[reg::LINE_VOLTAGE as usize] as i8;
        self.regs[reg::LINE_VOLTAGE as usize] = (-v) as u8;
        self.raise(int::POLI);
    }

    fn loop_current(&mut self, ma: u8) {
        self.regs[reg::LOOP_CURRENT as usize] = ma;
        if ma == 0 {
            self.raise(int::DODI);
        }
    }
}

#[derive(Debug)]
struct BusError;

impl embedded_hal::spi::Error for BusError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::ModeFault
    }
}

#[derive(Clone)]
struct Spi(Arc<Mutex<Chip>>);

impl ErrorType for Spi {
    type Error = BusError;
}

impl SpiDevice for Spi {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), BusError> {
        let mut chip = self.0.lock().unwrap();
        if chip.fail {
            return Err(BusError);
        }
        for op in ops {
            match op {
                Operation::Write([CTRL_WRITE, r, v]) => chip.write(*r, *v),
                Operation::TransferInPlace(buf) if buf.len() == 3 && buf[0] == CTRL_READ => {
                    buf[2] = chip.read(buf[1]);
                }
                _ => return Err(BusError),
            }
        }
        Ok(())
    }
}

struct Irq(Arc<Mutex<Chip>>);

impl embedded_hal::digital::ErrorType for Irq {
    type Error = core::convert::Infallible;
}

impl InputPin for Irq {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.0.lock().unwrap().irq_asserted())
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        Ok(self.0.lock().unwrap().irq_asserted())
    }
}

#[derive(Default)]
struct ResetPin(Vec<bool>);

impl embedded_hal::digital::ErrorType for ResetPin {
    type Error = core::convert::Infallible;
}

impl OutputPin for ResetPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.push(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.push(true);
        Ok(())
    }
}

#[derive(Default)]
struct Clock(u64);

impl DelayNs for Clock {
    fn delay_ns(&mut self, ns: u32) {
        self.0 += u64::from(ns);
    }
}

const CONFIG: DaaConfig = DaaConfig {
    law: Law::Alaw,
    pcm_start: 8,
    country: CountrySettings::CHINA,
};

fn ready() -> (Arc<Mutex<Chip>>, Si3050<Spi, ResetPin, Irq>) {
    let chip = Arc::new(Mutex::new(Chip::new(Some(3))));
    let mut daa = Si3050::new(
        Spi(chip.clone()),
        ResetPin::default(),
        Irq(chip.clone()),
        CONFIG,
    );
    daa.init(&mut Clock::default()).unwrap();
    (chip, daa)
}

fn events(daa: &mut Si3050<Spi, ResetPin, Irq>) -> Vec<LineEvent> {
    daa.service().unwrap();
    daa.poll().unwrap();
    std::iter::from_fn(|| daa.poll_event()).collect()
}

#[test]
fn init_resets_configures_pcm_and_waits_for_the_isolation_link() {
    let chip = Arc::new(Mutex::new(Chip::new(Some(3))));
    let mut daa = Si3050::new(
        Spi(chip.clone()),
        ResetPin::default(),
        Irq(chip.clone()),
        CONFIG,
    );
    let mut clock = Clock::default();
    daa.init(&mut clock).unwrap();
    let c = chip.lock().unwrap();
    assert_eq!(c.writes[0], (reg::CONTROL1, SR));
    for expected in [
        (reg::PCM_MODE, 0x20),
        (reg::TX_START_LO, 8),
        (reg::RX_START_LO, 8),
        (reg::DAA_CONTROL2, 0x00),
        (reg::INT_MASK, int::RDTI | int::DODI | int::POLI),
        (reg::CONTROL2, 0x83),
    ] {
        assert!(c.writes.contains(&expected), "missing write {expected:?}");
    }
    assert_eq!(
        c.writes.last(),
        Some(&(reg::DAA_CONTROL1, ONHM)),
        "ends on hook with the monitor on"
    );
    assert!(c.link_reads >= 4);
    // 5 + 5 ms reset pulse, 100 ms after soft reset, 3 × 10 ms polling the link.
    assert_eq!(clock.0, 140_000_000);
    drop(c);
    let (_, reset, _) = daa.release();
    assert_eq!(reset.0, [false, true]);
}

#[test]
fn ulaw_and_slot_offsets_are_programmed() {
    let chip = Arc::new(Mutex::new(Chip::new(Some(0))));
    let cfg = DaaConfig {
        law: Law::Ulaw,
        pcm_start: 0x123,
        country: CountrySettings::FCC,
    };
    let mut daa = Si3050::new(
        Spi(chip.clone()),
        ResetPin::default(),
        Irq(chip.clone()),
        cfg,
    );
    daa.init(&mut Clock::default()).unwrap();
    let c = chip.lock().unwrap();
    for expected in [
        (reg::PCM_MODE, 0x28),
        (reg::TX_START_LO, 0x23),
        (reg::TX_START_HI, 0x01),
        (reg::RX_START_HI, 0x01),
    ] {
        assert!(c.writes.contains(&expected), "missing write {expected:?}");
    }
}

#[test]
fn missing_line_side_and_bus_faults_are_reported() {
    let chip = Arc::new(Mutex::new(Chip::new(None)));
    let mut daa = Si3050::new(
        Spi(chip.clone()),
        ResetPin::default(),
        Irq(chip.clone()),
        CONFIG,
    );
    let mut clock = Clock::default();
    assert_eq!(daa.init(&mut clock), Err(DaaError::NoLineSide));
    assert!(
        clock.0 >= 1_000_000_000,
        "gave up only after the link timeout"
    );
    chip.lock().unwrap().fail = true;
    assert_eq!(
        daa.set_hook(Hook::Off),
        Err(DaaError::Spi(ErrorKind::ModeFault))
    );
    assert!(DaaError::NoLineSide.to_string().contains("isolation link"));
}

#[test]
fn ring_bursts_become_ring_start_and_stop() {
    let (chip, mut daa) = ready();
    assert!(events(&mut daa).is_empty(), "no interrupt, no events");
    chip.lock().unwrap().ring(true);
    assert_eq!(events(&mut daa), [LineEvent::RingStart]);
    assert!(!chip.lock().unwrap().irq_asserted(), "interrupt cleared");
    assert!(daa.ring_detected().unwrap());
    assert!(events(&mut daa).is_empty(), "still ringing");
    chip.lock().unwrap().ring(false);
    assert_eq!(events(&mut daa), [LineEvent::RingStop]);
    chip.lock().unwrap().ring(true);
    assert_eq!(events(&mut daa), [LineEvent::RingStart]);
}

#[test]
fn polarity_reversal_is_reported_and_visible_in_the_line_voltage() {
    let (chip, mut daa) = ready();
    assert_eq!(daa.line_voltage().unwrap(), 48);
    chip.lock().unwrap().reverse_polarity();
    assert_eq!(events(&mut daa), [LineEvent::PolarityReversal]);
    assert_eq!(daa.line_voltage().unwrap(), -48);
}

#[test]
fn off_hook_loop_current_drop_out_and_return() {
    let (chip, mut daa) = ready();
    daa.set_hook(Hook::Off).unwrap();
    assert_eq!(
        chip.lock().unwrap().regs[reg::DAA_CONTROL1 as usize] & (OH | ONHM),
        OH | ONHM
    );
    assert!((daa.loop_current_ma().unwrap() - 22.0).abs() < 0.01);
    assert_eq!(events(&mut daa), [LineEvent::LoopCurrent { present: true }]);
    chip.lock().unwrap().loop_current(0);
    assert_eq!(
        events(&mut daa),
        [LineEvent::LoopCurrent { present: false }]
    );
    assert!(events(&mut daa).is_empty());
    chip.lock().unwrap().loop_current(25);
    assert_eq!(events(&mut daa), [LineEvent::LoopCurrent { present: true }]);
    daa.set_hook(Hook::On).unwrap();
    assert_eq!(
        chip.lock().unwrap().regs[reg::DAA_CONTROL1 as usize] & OH,
        0
    );
}

#[test]
fn daa_port_is_a_line_port_with_chip_signalling_and_slot_audio() {
    use crate::line::{LineCommand, LinePort};
    use crate::slic::daa_port::DaaPort;
    let (chip, daa) = ready();
    let (audio, far) = crate::sim::audio::seat("slot0", 8000, 160, crate::sim::Pace::Fast).unwrap();
    let mut port = DaaPort::new("fxo1", daa, audio).unwrap();
    assert_eq!(
        (port.id(), port.kind(), port.frame_len()),
        ("fxo1", crate::board::PortKind::Fxo, 160)
    );
    far.say(crate::sim::Audio::Samples(vec![700; 160])).unwrap();
    chip.lock().unwrap().ring(true);
    let mut frame = [0i16; 160];
    port.read_frame(&mut frame).unwrap();
    assert_eq!(frame, [700; 160]);
    assert_eq!(port.poll_event(), Some(LineEvent::RingStart));
    port.command(LineCommand::SetHook(Hook::Off)).unwrap();
    assert_eq!(
        chip.lock().unwrap().regs[reg::DAA_CONTROL1 as usize] & OH,
        OH
    );
    port.write_frame(&[5; 160]).unwrap();
    assert_eq!(far.take_heard(), vec![5; 160]);
    assert!(matches!(
        port.command(LineCommand::StopRing),
        Err(crate::line::LineError::WrongKind { .. })
    ));
    chip.lock().unwrap().fail = true;
    let err = port.read_frame(&mut frame).unwrap_err();
    assert!(err.to_string().contains("SPI transfer failed"), "{err}");

    let (_, daa2) = ready();
    let (wide, _) = crate::sim::audio::seat("w", 16000, 320, crate::sim::Pace::Fast).unwrap();
    assert!(DaaPort::new("fxo2", daa2, wide).is_err());
}
