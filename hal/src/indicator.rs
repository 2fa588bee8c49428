//! LEDs and relays on the gateway box.
//!
//! The power-fail bypass relay matters most: when the gateway is down (no power,
//! watchdog reset) it connects an FXO line straight to an FXS phone so the branch
//! can still call out. Software holds it released while healthy.

/// What an LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedState {
    Off,
    On,
    Blink { on_ms: u32, off_ms: u32 },
}

/// Errors driving an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output {name}: {reason}")]
pub struct OutputError {
    pub name: String,
    pub reason: String,
}

/// A status LED (power, WAN link, line in use...).
pub trait Indicator: Send {
    /// Name from the board file ("power", "wan", ...).
    fn name(&self) -> &str;
    /// Shows `state`; blinking is the implementation's job so callers never time it.
    fn set(&mut self, state: LedState) -> Result<(), OutputError>;
}

/// A relay, such as the power-fail bypass.
pub trait Relay: Send {
    /// Name from the board file.
    fn name(&self) -> &str;
    /// Engages (true) or releases (false) the relay.
    fn set_engaged(&mut self, engaged: bool) -> Result<(), OutputError>;
    /// Current position.
    fn is_engaged(&self) -> bool;
}
