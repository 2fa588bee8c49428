//! `GET /api/v1/events`: the event bus as Server-Sent Events, filtered by role.

use super::Api;
use super::authz::{Granted, Scope};
use crate::events::Event;
use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

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

pub async fn events(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = api.coordinator().events().subscribe();
    let stream = futures_util::stream::unfold((rx, api, granted), |state| async move {
        let (mut rx, api, granted) = state;
        loop {
            let item = match rx.recv().await {
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
            return Some((Ok(item), (rx, api, granted)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
