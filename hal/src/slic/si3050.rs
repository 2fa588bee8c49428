//! Silicon Labs Si3050 + Si3018/19 voice DAA (one FXO line per chip).
//!
//! The driver owns the chip's SPI device, reset line and interrupt line. `init`
//! brings the isolation link up and configures PCM; `service` reads the interrupt
//! sources and turns them into [`LineEvent`]s; `poll` (once per audio frame) tracks
//! what has no interrupt of its own (the end of a ring burst, loop current coming
//! back). Register numbers and bits follow the Si3050 datasheet's register map.

use crate::dsp::g711::Law;
use crate::line::{Hook, LineEvent};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::spi::{Error as _, SpiDevice};

/// SPI control byte: register access, write.
pub const CTRL_WRITE: u8 = 0x20;
/// SPI control byte: register access, read.
pub const CTRL_READ: u8 = 0x60;

/// Register numbers used by the driver.
pub mod reg {
    /// Control 1: SR (bit 7) software reset.
    pub const CONTROL1: u8 = 1;
    /// Control 2: INTE (bit 7) interrupt pin enable, INTP (bit 6) polarity,
    /// HBE (bit 1) hybrid enable, RXE (bit 0) receive enable.
    pub const CONTROL2: u8 = 2;
    /// Interrupt mask (same bit layout as the source register).
    pub const INT_MASK: u8 = 3;
    /// Interrupt source; a bit is cleared by writing 0 to it.
    pub const INT_SOURCE: u8 = 4;
    /// DAA control 1: OH (bit 0) off hook, RDT (bit 2) ring detect (read only),
    /// ONHM (bit 3) on-hook line monitor (receive caller ID while on hook).
    pub const DAA_CONTROL1: u8 = 5;
    /// DAA control 2: PDL (bit 4) powers the line-side device down.
    pub const DAA_CONTROL2: u8 = 6;
    /// System/line-side revision: the high nibble is 0 until the isolation link is up.
    pub const REVISION: u8 = 11;
    /// Line-side status: FDT (bit 6) frame detect.
    pub const LINE_STATUS: u8 = 12;
    /// International control 1: OHS, RZ, RT.
    pub const INTL_CONTROL1: u8 = 16;
    /// DC termination control.
    pub const DC_TERMINATION: u8 = 26;
    /// Loop current status, 1.1 mA per bit.
    pub const LOOP_CURRENT: u8 = 28;
    /// Line voltage status, signed, 1 V per bit (sign = polarity).
    pub const LINE_VOLTAGE: u8 = 29;
    /// AC termination control.
    pub const AC_TERMINATION: u8 = 30;
    /// PCM/SPI mode: PCME (bit 5), PCMF (bits 4:3: 00 A-law, 01 µ-law).
    pub const PCM_MODE: u8 = 33;
    /// PCM transmit start count, low byte.
    pub const TX_START_LO: u8 = 34;
    /// PCM transmit start count, high bits.
    pub const TX_START_HI: u8 = 35;
    /// PCM receive start count, low byte.
    pub const RX_START_LO: u8 = 36;
    /// PCM receive start count, high bits.
    pub const RX_START_HI: u8 = 37;
}

/// Interrupt bits (registers 3 and 4).
pub mod int {
    /// Ring detect.
    pub const RDTI: u8 = 0x80;
    /// Receive overload.
    pub const ROVI: u8 = 0x40;
    /// Drop-out detect: loop current lost while off hook.
    pub const DODI: u8 = 0x08;
    /// Polarity reversal.
    pub const POLI: u8 = 0x01;
}

const SR: u8 = 0x80;
const INTE: u8 = 0x80;
const HBE_RXE: u8 = 0x03;
const OH: u8 = 0x01;
const RDT: u8 = 0x04;
const ONHM: u8 = 0x08;
const FDT: u8 = 0x40;
const PCME: u8 = 0x20;

/// Loop current below this (mA) counts as no loop current.
const LOOP_PRESENT_MA: f32 = 5.0;
/// How long `init` waits for the isolation link (ms).
const LINK_TIMEOUT_MS: u32 = 1000;

/// Line-side settings that vary by country (values for registers 16, 26, 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountrySettings {
    pub intl_control1: u8,
    pub dc_termination: u8,
    pub ac_termination: u8,
}

impl CountrySettings {
    /// China: complex AC termination and CTR21-style DC termination. Check these
    /// against the datasheet's country table when bringing up a new board.
    pub const CHINA: Self = Self {
        intl_control1: 0x00,
        dc_termination: 0xC0,
        ac_termination: 0x0A,
    };
    /// FCC (North America): 600 Ω real termination.
    pub const FCC: Self = Self {
        intl_control1: 0x00,
        dc_termination: 0x00,
        ac_termination: 0x00,
    };
}

/// Driver configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaaConfig {
    pub law: Law,
    /// PCLK cycles after frame sync at which this chip's slot starts (8 per 8-bit slot).
    pub pcm_start: u16,
    pub country: CountrySettings,
}

/// Errors talking to the chip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaaError {
    #[error("Si3050 SPI transfer failed: {0:?}")]
    Spi(embedded_hal::spi::ErrorKind),
    #[error("Si3050 GPIO (reset or interrupt line) failed")]
    Gpio,
    #[error(
        "Si3050 isolation link did not come up within {LINK_TIMEOUT_MS} ms (line-side chip missing or not powered)"
    )]
    NoLineSide,
    #[error("Si3050 line side reports no frame detect")]
    NoFrameDetect,
}

/// One Si3050 DAA.
pub struct Si3050<S, R, I> {
    spi: S,
    reset: R,
    irq: I,
    config: DaaConfig,
    hook: Hook,
    ringing: bool,
    loop_present: bool,
    events: heapless::Deque<LineEvent, 16>,
}

impl<S: SpiDevice, R: OutputPin, I: InputPin> Si3050<S, R, I> {
    /// Takes the chip's bus and pins; call [`Si3050::init`] before anything else.
    pub fn new(spi: S, reset: R, irq: I, config: DaaConfig) -> Self {
        Self {
            spi,
            reset,
            irq,
            config,
            hook: Hook::On,
            ringing: false,
            loop_present: false,
            events: heapless::Deque::new(),
        }
    }

    fn write(&mut self, reg: u8, value: u8) -> Result<(), DaaError> {
        self.spi
            .write(&[CTRL_WRITE, reg, value])
            .map_err(|e| DaaError::Spi(e.kind()))
    }

    fn read(&mut self, reg: u8) -> Result<u8, DaaError> {
        let mut buf = [CTRL_READ, reg, 0];
        self.spi
            .transfer_in_place(&mut buf)
            .map_err(|e| DaaError::Spi(e.kind()))?;
        Ok(buf[2])
    }

    /// Resets and configures the chip, powers the line side up and waits for the
    /// isolation link. Leaves the line on hook with the on-hook monitor on (so
    /// caller ID is received) and interrupts enabled for ring, polarity, drop-out.
    pub fn init(&mut self, delay: &mut impl DelayNs) -> Result<(), DaaError> {
        self.reset.set_low().map_err(|_| DaaError::Gpio)?;
        delay.delay_ms(5);
        self.reset.set_high().map_err(|_| DaaError::Gpio)?;
        delay.delay_ms(5);
        self.write(reg::CONTROL1, SR)?;
        delay.delay_ms(100);
        let pcmf = match self.config.law {
            Law::Alaw => 0x00,
            Law::Ulaw => 0x08,
        };
        self.write(reg::PCM_MODE, PCME | pcmf)?;
        let [lo, hi] = self.config.pcm_start.to_le_bytes();
        self.write(reg::TX_START_LO, lo)?;
        self.write(reg::TX_START_HI, hi & 0x03)?;
        self.write(reg::RX_START_LO, lo)?;
        self.write(reg::RX_START_HI, hi & 0x03)?;
        let c = self.config.country;
        self.write(reg::INTL_CONTROL1, c.intl_control1)?;
        self.write(reg::DC_TERMINATION, c.dc_termination)?;
        self.write(reg::AC_TERMINATION, c.ac_termination)?;
        // Power up the line side (PDL = 0) and wait for the isolation link.
        self.write(reg::DAA_CONTROL2, 0x00)?;
        let mut waited = 0;
        while self.read(reg::REVISION)? & 0xF0 == 0 {
            if waited >= LINK_TIMEOUT_MS {
                return Err(DaaError::NoLineSide);
            }
            delay.delay_ms(10);
            waited += 10;
        }
        if self.read(reg::LINE_STATUS)? & FDT == 0 {
            return Err(DaaError::NoFrameDetect);
        }
        self.write(reg::INT_SOURCE, 0x00)?;
        self.write(reg::INT_MASK, int::RDTI | int::DODI | int::POLI)?;
        self.write(reg::CONTROL2, INTE | HBE_RXE)?;
        self.set_hook(Hook::On)
    }

    /// Goes off hook (answer/seize) or on hook (release).
    pub fn set_hook(&mut self, hook: Hook) -> Result<(), DaaError> {
        let value = match hook {
            Hook::Off => OH | ONHM,
            Hook::On => ONHM,
        };
        self.write(reg::DAA_CONTROL1, value)?;
        self.hook = hook;
        if hook == Hook::Off {
            self.loop_present = self.loop_current_ma()? >= LOOP_PRESENT_MA;
            self.push(LineEvent::LoopCurrent {
                present: self.loop_present,
            });
        }
        Ok(())
    }

    /// Line voltage in volts; the sign is the loop polarity.
    pub fn line_voltage(&mut self) -> Result<i8, DaaError> {
        Ok(self.read(reg::LINE_VOLTAGE)? as i8)
    }

    /// Loop current in mA (meaningful off hook).
    pub fn loop_current_ma(&mut self) -> Result<f32, DaaError> {
        Ok(f32::from(self.read(reg::LOOP_CURRENT)?) * 1.1)
    }

    /// Whether ringing voltage is present now.
    pub fn ring_detected(&mut self) -> Result<bool, DaaError> {
        Ok(self.read(reg::DAA_CONTROL1)? & RDT != 0)
    }

    /// Handles the interrupt line: if asserted (low), reads and clears the sources
    /// and queues the events they mean.
    pub fn service(&mut self) -> Result<(), DaaError> {
        if self.irq.is_high().map_err(|_| DaaError::Gpio)? {
            return Ok(());
        }
        let src = self.read(reg::INT_SOURCE)?;
        // Writing 0 clears a source bit and writing 1 leaves it: clear what was read.
        self.write(reg::INT_SOURCE, !src)?;
        if src & int::RDTI != 0 && !self.ringing {
            self.ringing = true;
            self.push(LineEvent::RingStart);
        }
        if src & int::POLI != 0 {
            self.push(LineEvent::PolarityReversal);
        }
        if src & int::DODI != 0 && self.hook == Hook::Off && self.loop_present {
            self.loop_present = false;
            self.push(LineEvent::LoopCurrent { present: false });
        }
        Ok(())
    }

    /// Tracks state that raises no interrupt; call once per audio frame.
    pub fn poll(&mut self) -> Result<(), DaaError> {
        if self.ringing && !self.ring_detected()? {
            self.ringing = false;
            self.push(LineEvent::RingStop);
        }
        if self.hook == Hook::Off
            && !self.loop_present
            && self.loop_current_ma()? >= LOOP_PRESENT_MA
        {
            self.loop_present = true;
            self.push(LineEvent::LoopCurrent { present: true });
        }
        Ok(())
    }

    fn push(&mut self, e: LineEvent) {
        // A full queue means nobody polls; dropping the oldest keeps the newest state.
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    /// Next queued line event.
    pub fn poll_event(&mut self) -> Option<LineEvent> {
        self.events.pop_front()
    }

    /// Gives the bus and pins back.
    pub fn release(self) -> (S, R, I) {
        (self.spi, self.reset, self.irq)
    }
}

#[cfg(test)]
mod tests;
