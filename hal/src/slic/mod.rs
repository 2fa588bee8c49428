//! Drivers for line-interface chips on SPI (embedded-hal 1.0), so the gateway can
//! drive real FXO/FXS hardware without a kernel telephony stack. Audio does not
//! pass through here: the chips put it on a PCM/TDM bus that ALSA exposes.

pub mod daa_port;
pub mod si3050;
