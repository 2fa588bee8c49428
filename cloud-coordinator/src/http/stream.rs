//! `GET /api/v1/events`: the event bus as Server-Sent Events, filtered by role.
//! A stream lives no longer than its session: it checks the session every
//! `HttpOptions::session_check` and ends once it was logged out or expired, so
//! a logged-out browser or integrator stops receiving events.

use super::Api;
use super::authz::{Granted, Scope};
use crate::events::Event;
use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::MissedTickBehavior;

/// Whether the account behind `granted` may see `event`: agents their own
/// events only; team leads their team's agent events and queue and call events;
/// duty managers and admins everything.
pub fn visible(api: &Api, granted: &Granted, event: &Event) -> bool {
    match (granted.scope, event.agent()) {
        (Scope::All, _) => true,
        (Scope::None, _) => false,
        (_, Some(agent)) => granted.covers(api, agent),
        (Scope::Own, None) => false,
        (Scope::Team, None) => !event.is_node_event(),
    }
}

/// Whether the stream's session is still live. A store failure ends the stream
/// too: the session cannot be vouched for (the client's reconnect is checked
/// again by the guard).
async fn session_live(api: &Api, granted: &Granted) -> bool {
    let token = granted.token.clone();
    let (now, idle) = (api.now(), api.0.options.session_idle.as_secs());
    match api
        .blocking(move |c| Ok(c.store().session_live(&token, now, idle)?))
        .await
    {
        Ok(live) => live,
        Err(err) => {
            tracing::warn!(error = %err.error, "event stream ends: its session cannot be checked");
            false
        }
    }
}

pub async fn events(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = api.coordinator().events().subscribe();
    // A zero period would make the timer panic: checking every millisecond is
    // the most a configuration can ask for.
    let period = api.0.options.session_check.max(Duration::from_millis(1));
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    check.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stream = futures_util::stream::unfold((rx, check, api, granted), |state| async move {
        let (mut rx, mut check, api, granted) = state;
        loop {
            let received = tokio::select! {
                received = rx.recv() => received,
                _ = check.tick() => {
                    if session_live(&api, &granted).await {
                        continue;
                    }
                    tracing::info!(user = %granted.account.username, "event stream ends with its session");
                    return None;
                }
            };
            let item = match received {
                Ok(event) if visible(&api, &granted, &event) => {
                    match SseEvent::default().event(event.name()).json_data(&event) {
                        Ok(e) => e,
                        Err(err) => {
                            tracing::warn!(%err, "event not serialisable");
                            continue;
                        }
                    }
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(item), (rx, check, api, granted)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
