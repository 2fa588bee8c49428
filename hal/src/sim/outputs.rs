//! Simulated front-panel LEDs and the power-fail bypass relay: they record what the
//! gateway set so tests can check it.

use super::lock;
use crate::indicator::{Indicator, LedState, OutputError, Relay};
use std::sync::{Arc, Mutex};

/// A simulated LED; clones share state (keep one, give one to the gateway).
#[derive(Debug, Clone)]
pub struct SimLed {
    name: String,
    state: Arc<Mutex<LedState>>,
}

impl SimLed {
    /// An LED that starts off.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: Arc::new(Mutex::new(LedState::Off)),
        }
    }

    /// What the LED shows now.
    pub fn state(&self) -> LedState {
        *lock(&self.state)
    }
}

impl Indicator for SimLed {
    fn name(&self) -> &str {
        &self.name
    }

    fn set(&mut self, state: LedState) -> Result<(), OutputError> {
        if let LedState::Blink { on_ms: 0, .. } | LedState::Blink { off_ms: 0, .. } = state {
            return Err(OutputError {
                name: self.name.clone(),
                reason: "blink periods must be non-zero".to_owned(),
            });
        }
        *lock(&self.state) = state;
        Ok(())
    }
}

/// A simulated relay; starts engaged, as a bypass relay is with the power off.
#[derive(Debug, Clone)]
pub struct SimRelay {
    name: String,
    engaged: Arc<Mutex<bool>>,
}

impl SimRelay {
    /// A relay in its unpowered (engaged) position.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            engaged: Arc::new(Mutex::new(true)),
        }
    }
}

impl Relay for SimRelay {
    fn name(&self) -> &str {
        &self.name
    }

    fn set_engaged(&mut self, engaged: bool) -> Result<(), OutputError> {
        *lock(&self.engaged) = engaged;
        Ok(())
    }

    fn is_engaged(&self) -> bool {
        *lock(&self.engaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_record_what_the_gateway_set() {
        let led = SimLed::new("wan");
        let mut gw_led = led.clone();
        gw_led
            .set(LedState::Blink {
                on_ms: 100,
                off_ms: 900,
            })
            .unwrap();
        assert_eq!(
            led.state(),
            LedState::Blink {
                on_ms: 100,
                off_ms: 900
            }
        );
        assert!(
            gw_led
                .set(LedState::Blink {
                    on_ms: 0,
                    off_ms: 1
                })
                .is_err()
        );
        assert_eq!(gw_led.name(), "wan");
        let mut relay = SimRelay::new("bypass");
        assert!(
            relay.is_engaged(),
            "bypass engaged until the gateway is healthy"
        );
        relay.set_engaged(false).unwrap();
        assert!(!relay.clone().is_engaged());
    }
}
