//! IVR flows and business-hours calendars as configuration, and the sans-I/O
//! interpreter the gateway's call engine drives for each call.
//!
//! The call lives where the line is, so the IVR runs on the gateway from a cached,
//! validated configuration: a branch cut off from the coordinator still greets,
//! menus and closes on time. The interpreter takes inputs and a clock value and
//! returns actions, so every path is testable with a simulated clock.
//!
//! ```
//! use tandem_node::ivr::{IvrAction, IvrSession, ValidIvrConfig};
//!
//! let config = ValidIvrConfig::from_toml(
//!     r#"
//!     [calendars.branch]
//!     utc_offset_minutes = 480
//!     holidays = ["2026-10-01"]
//!     weekly = { mon = ["09:00-17:00"] }
//!
//!     [flows.main]
//!     start = "hours"
//!     nodes.hours.hours = { calendar = "branch", open = "agent", closed = "bye" }
//!     nodes.agent.queue = { queue = 1 }
//!     nodes.bye.closed_message = { prompt = { file = "closed.wav" } }
//!     "#,
//! )?;
//! // Monday 2026-11-23 at 10:00 in Beijing (02:00 UTC): open, so straight to the queue.
//! let (session, actions) = IvrSession::start("main", &config, 1_795_399_200_000)?;
//! assert!(matches!(actions[..], [IvrAction::RouteToQueue { .. }]));
//! assert_eq!(session.path(), ["hours", "agent"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod calendar;
mod config;
mod events;
mod session;
mod validate;

pub use calendar::{
    Calendar, CalendarParseError, CivilDate, HoursRange, MAX_UTC_OFFSET_MINUTES, SpecialDay,
    WeeklyHours,
};
pub use config::{
    CallbackNode, ClosedNode, CollectNode, Flow, HoursNode, IvrConfig, MenuNode, Node, PlayNode,
    Prompt, QueueNode, ToneSpec,
};
pub use events::{DigitUse, IvrAction, IvrEvent, IvrEventKind, IvrInput, IvrOutcome, node_visits};
pub use session::{IvrError, IvrSession, MAX_EVENTS, MAX_TYPEAHEAD};
pub use validate::{IvrConfigError, MAX_COLLECT_LEN, MAX_TONE_HZ, ValidIvrConfig, validate};
