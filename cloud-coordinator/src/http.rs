//! The HTTP API. For now: health and the node list, read-only; accounts and roles
//! arrive with the operator surfaces.

use crate::Coordinator;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

pub fn router(coordinator: Coordinator) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/nodes", get(nodes))
        .with_state(coordinator)
}

async fn nodes(State(coordinator): State<Coordinator>) -> Response {
    match tokio::task::spawn_blocking(move || coordinator.node_views()).await {
        Ok(Ok(nodes)) => Json(nodes).into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

pub async fn serve(
    coordinator: Coordinator,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    if let Err(err) = axum::serve(listener, router(coordinator))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%err, "HTTP server failed");
    }
}
