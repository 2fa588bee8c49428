//! The HTTP surface: the REST API under `/api/v1` (documented by the OpenAPI file
//! served at `/api/v1/openapi.json`), the live event stream, Prometheus metrics
//! and the web pages (login, agent desktop, wallboard, admin).
//!
//! Every route is registered in [`routes`] with its [`authz::Action`]; the
//! route's guard resolves the session and applies [`authz::RULES`] before the
//! handler runs. Call control is reached through the [`CallDesk`] trait.
//!
//! Every response passes `security::protect` (the cross-site check for
//! cookie-authenticated changes, and the browser security headers); logins go
//! through `throttle`; connections are accepted by `listen`, plain or over
//! TLS ([`tls`]), with header-read and handshake deadlines.

mod auth;
pub mod authz;
mod config_sections;
mod handlers;
mod listen;
mod pages;
mod security;
mod stream;
#[cfg(test)]
mod tests;
mod throttle;
pub mod tls;

use crate::Coordinator;
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_node::calls::{AgentCommand, AgentView, CenterConfig, ValidCenterConfig};
use tandem_node::clock::Clock as _;
use tandem_node::routing::{AgentId, CallId, GroupId, QueueId};
use tokio::sync::watch;

pub use config_sections::apply_put;
pub use throttle::LoginLimiter;

/// The OpenAPI document, hand-written; a test keeps it and [`routes`] in step.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Call control as the HTTP API sees it. The coordinator's call control
/// implements it; tests use a double. Methods are called from async handlers and
/// must not block on I/O, except [`CallDesk::summary_json`].
pub trait CallDesk: Send + Sync + 'static {
    /// Carries out an agent's (or supervisor's) command as `agent`.
    fn agent_command(&self, agent: AgentId, command: AgentCommand) -> Result<AgentView, DeskError>;
    /// The agent's current view; `None` for an unknown agent.
    fn agent_view(&self, agent: AgentId) -> Option<AgentView>;
    /// The wallboard: per queue, agent and site figures, as JSON. May block
    /// (reads the store): the handler runs it off the async threads.
    fn summary_json(&self) -> serde_json::Value;
    /// The configuration in force and its version; `None` before the first.
    fn config(&self) -> Option<(u64, CenterConfig)>;
    /// Replaces the configuration with what `edit` makes of the one in force,
    /// one writer at a time; refused (409) if `expected` is given and another
    /// change landed since. Returns the new version. Blocking.
    fn update_config(&self, expected: Option<u64>, edit: ConfigEdit<'_>) -> Result<u64, ApiError>;
    /// The groups `agent` is a member of (for team leads' scope).
    fn agent_groups(&self, agent: AgentId) -> Vec<GroupId>;
    /// Figures for `/metrics`.
    fn metrics(&self) -> DeskMetrics;
    /// Wrap-up dispositions recorded for `calls` (for the caller history).
    fn dispositions(&self, calls: &[CallId]) -> HashMap<CallId, String> {
        let _ = calls;
        HashMap::new()
    }
}

/// A change to the center configuration: the one in force (if any) in, the
/// validated replacement out, or the error the request gets.
pub type ConfigEdit<'a> =
    Box<dyn FnOnce(Option<&CenterConfig>) -> Result<ValidCenterConfig, ApiError> + Send + 'a>;

/// Call-control figures for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskMetrics {
    pub calls_active: u64,
    /// Calls waiting, per queue.
    pub queue_depth: Vec<(QueueId, u64)>,
    /// How long routing decisions take.
    pub routing_latency: crate::calls::latency::LatencySnapshot,
}

/// Why call control did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    /// Not possible in the current state (answer with nothing ringing…): 409.
    #[error("{0}")]
    Refused(String),
    /// A named input is wrong (unknown agent, queue…): 422.
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// Call control is not running: 503.
    #[error("{0}")]
    Unavailable(String),
}

/// Seconds since the Unix epoch; injectable for tests.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How the HTTP API behaves.
#[derive(Clone)]
pub struct HttpOptions {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// Failed logins allowed per user within `login_window`, from any address.
    pub login_failures: usize,
    /// Failed logins allowed per client address within `login_window`, for
    /// any names (looser: many people may share an office's address).
    pub login_failures_per_address: usize,
    pub login_window: Duration,
    /// Password checks (argon2) running at once; more logins wait briefly,
    /// then get 503.
    pub concurrent_verifications: usize,
    /// Served over HTTPS: the session cookie is `Secure` and responses carry
    /// `Strict-Transport-Security`.
    pub https: bool,
    /// A client must send each request's header within this time, or its
    /// connection is closed (slowloris).
    pub header_read_timeout: Duration,
    /// How often an open event stream checks that its session is still live
    /// (not logged out, expired or ended by an account change); it ends when not.
    pub session_check: Duration,
    pub clock: Clock,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            session_idle: Duration::from_secs(12 * 3600),
            login_failures: 5,
            login_failures_per_address: 30,
            login_window: Duration::from_secs(60),
            concurrent_verifications: 4,
            https: false,
            header_read_timeout: Duration::from_secs(10),
            session_check: Duration::from_secs(5),
            clock: Arc::new(|| tandem_node_io::clock::SystemClock.now_secs()),
        }
    }
}

impl HttpOptions {
    /// The defaults, with the idle session lifetime from `TANDEM_SESSION_IDLE`
    /// (e.g. `8h`, `30m`) if set.
    pub fn from_env() -> Self {
        let mut options = HttpOptions::default();
        if let Ok(text) = std::env::var("TANDEM_SESSION_IDLE") {
            match humantime::parse_duration(&text) {
                Ok(idle) if idle.as_secs() > 0 => options.session_idle = idle,
                _ => {
                    tracing::warn!(value = %text, "TANDEM_SESSION_IDLE is not a duration; using 12h")
                }
            }
        }
        options
    }
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct Api(Arc<ApiInner>);

struct ApiInner {
    coordinator: Coordinator,
    desk: Arc<dyn CallDesk>,
    options: HttpOptions,
    limiter: Mutex<LoginLimiter>,
    logins: throttle::LoginCounters,
    verifications: Arc<tokio::sync::Semaphore>,
    started_at: u64,
}

impl Api {
    pub fn new(coordinator: Coordinator, desk: Arc<dyn CallDesk>, options: HttpOptions) -> Self {
        let started_at = (options.clock)();
        let limiter = LoginLimiter::new(
            options.login_failures,
            options.login_failures_per_address,
            options.login_window.as_secs(),
        );
        let verifications = tokio::sync::Semaphore::new(options.concurrent_verifications.max(1));
        Api(Arc::new(ApiInner {
            coordinator,
            desk,
            options,
            limiter: Mutex::new(limiter),
            logins: throttle::LoginCounters::default(),
            verifications: Arc::new(verifications),
            started_at,
        }))
    }

    /// The login limiter; held only for counting, never across a check.
    fn limiter(&self) -> std::sync::MutexGuard<'_, LoginLimiter> {
        self.0.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn coordinator(&self) -> &Coordinator {
        &self.0.coordinator
    }

    pub fn desk(&self) -> &dyn CallDesk {
        &*self.0.desk
    }

    pub fn now(&self) -> u64 {
        (self.0.options.clock)()
    }

    /// Runs blocking call-desk work (configuration changes) off the async threads.
    pub async fn desk_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn CallDesk) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let desk = self.0.desk.clone();
        tokio::task::spawn_blocking(move || work(&*desk))
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs database or hashing work off the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Coordinator) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let coordinator = self.0.coordinator.clone();
        tokio::task::spawn_blocking(move || work(&coordinator))
            .await
            .map_err(ApiError::internal)?
    }
}

/// A JSON error: `{ "error": "...", "field": "..." }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn field(status: StatusCode, field: impl Into<String>, error: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(status, error)
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "log in first")
    }

    pub fn forbidden(error: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, error)
    }

    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error)
    }

    /// A server-side failure: logged in full, reported briefly.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "HTTP request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            // A full disk or I/O fault: nothing was stored; the client may retry.
            crate::store::StoreError::Unavailable(e) => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                err.retry_after = Some(STORE_RETRY_AFTER_SECS);
                err
            }
            e => ApiError::internal(e),
        }
    }
}

/// `Retry-After` on a refusal while the store is faulted.
const STORE_RETRY_AFTER_SECS: u64 = 5;

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
            DeskError::Invalid { field, problem } => {
                ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, problem)
            }
            DeskError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.error,
            field: self.field.as_deref(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON request body whose errors name the offending field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "body", e.body_text()))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body; a wrong field is a 422 naming it, broken JSON a 400.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let message = inner.to_string();
        let path = e.path().to_string();
        let named = |prefix: &str| {
            message
                .strip_prefix(prefix)
                .and_then(|rest| rest.split('`').next())
                .map(str::to_owned)
        };
        let top = matches!(path.as_str(), "." | "" | "?");
        let field = match named("missing field `") {
            Some(name) if top => name,
            Some(name) => format!("{path}.{name}"),
            None if top => named("unknown field `").unwrap_or_else(|| "body".to_owned()),
            None => path,
        };
        let status = if inner.is_syntax() || inner.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::field(status, field, message)
    })
}

/// A route table that remembers what it registered, so the OpenAPI document can
/// be checked against it.
pub struct Routes {
    router: axum::Router<Api>,
    api: Api,
    list: Vec<(&'static str, &'static str, Option<authz::Action>)>,
}

impl Routes {
    fn new(api: Api) -> Self {
        Routes {
            router: axum::Router::new(),
            api,
            list: Vec::new(),
        }
    }

    fn filter(method: &str) -> MethodFilter {
        match method {
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::GET,
        }
    }

    /// A route anyone may call.
    fn public<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: axum::handler::Handler<T, Api>,
        T: 'static,
    {
        self.router = self.router.route(path, on(Self::filter(method), handler));
        self.list.push((method, path, None));
        self
    }

    /// A route for logged-in accounts whose role allows `action`.
    fn guarded<H, T>(
        mut self,
        method: &'static str,
        path: &'static str,
        action: authz::Action,
        handler: H,
    ) -> Self
    where
        H: axum::handler::Handler<T, Api>,
        T: 'static,
    {
        let guard = axum::middleware::from_fn_with_state((self.api.clone(), action), auth::guard);
        self.router = self
            .router
            .route(path, on(Self::filter(method), handler).route_layer(guard));
        self.list.push((method, path, Some(action)));
        self
    }

    /// Every registered route: method, path, and its action (`None` if public).
    pub fn list(&self) -> &[(&'static str, &'static str, Option<authz::Action>)] {
        &self.list
    }

    pub fn into_router(self) -> axum::Router {
        let https = self.api.0.options.https;
        self.router
            .fallback(|| async { ApiError::not_found("no such route") })
            .method_not_allowed_fallback(|| async {
                ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
            })
            .layer(axum::middleware::from_fn_with_state(
                https,
                security::protect,
            ))
            .with_state(self.api)
    }
}

/// Every route of the HTTP surface.
pub fn routes(api: Api) -> Routes {
    use authz::Action as A;
    use handlers as h;
    let (get, post, put, delete) = ("GET", "POST", "PUT", "DELETE");
    Routes::new(api)
        .public(get, "/healthz", h::healthz)
        .public(get, "/metrics", h::metrics)
        .public(get, "/api/v1/openapi.json", h::openapi)
        .public(post, "/api/v1/auth/login", auth::login)
        .guarded(post, "/api/v1/auth/logout", A::Logout, auth::logout)
        .guarded(get, "/api/v1/auth/me", A::Me, auth::me)
        .guarded(get, "/api/v1/nodes", A::ListNodes, h::nodes)
        .guarded(
            post,
            "/api/v1/nodes/tokens",
            A::CreateToken,
            h::create_token,
        )
        .guarded(
            post,
            "/api/v1/nodes/{id}/revoke",
            A::RevokeNode,
            h::revoke_node,
        )
        .guarded(get, "/api/v1/agents/{id}", A::ViewAgent, h::agent_view)
        .guarded(
            get,
            "/api/v1/agents/{id}/stats",
            A::ViewAgent,
            h::agent_stats,
        )
        .guarded(
            post,
            "/api/v1/agents/{id}/commands",
            A::CommandAgent,
            h::agent_command,
        )
        .guarded(get, "/api/v1/config", A::ReadConfig, h::config_get)
        .guarded(put, "/api/v1/config", A::WriteConfig, h::config_put)
        .guarded(
            get,
            "/api/v1/config/{section}",
            A::ReadConfig,
            config_sections::section_get,
        )
        .guarded(
            put,
            "/api/v1/config/{section}",
            A::WriteConfig,
            config_sections::section_put,
        )
        .guarded(
            get,
            "/api/v1/config/{section}/{key}",
            A::ReadConfig,
            config_sections::item_get,
        )
        .guarded(
            put,
            "/api/v1/config/{section}/{key}",
            A::WriteConfig,
            config_sections::item_put,
        )
        .guarded(
            delete,
            "/api/v1/config/{section}/{key}",
            A::WriteConfig,
            config_sections::item_delete,
        )
        .guarded(get, "/api/v1/summary", A::Wallboard, h::summary)
        .guarded(get, "/api/v1/cdrs", A::ExportCdrs, h::cdrs)
        .guarded(get, "/api/v1/reports", A::Reports, h::reports)
        .guarded(get, "/api/v1/history", A::CallerHistory, h::history)
        .guarded(get, "/api/v1/events", A::Events, stream::events)
        .guarded(get, "/api/v1/accounts", A::ListAccounts, h::accounts)
        .guarded(
            post,
            "/api/v1/accounts",
            A::WriteAccounts,
            h::account_create,
        )
        .guarded(
            put,
            "/api/v1/accounts/{username}",
            A::WriteAccounts,
            h::account_update,
        )
        .guarded(
            delete,
            "/api/v1/accounts/{username}",
            A::WriteAccounts,
            h::account_delete,
        )
        .public(get, "/", pages::index)
        .public(get, "/login", pages::login)
        .public(get, "/desk", pages::desk)
        .public(get, "/wallboard", pages::wallboard)
        .public(get, "/admin", pages::admin)
        .public(get, "/static/{file}", pages::asset)
}

/// The whole HTTP surface for `api`.
pub fn router(api: Api) -> axum::Router {
    routes(api).into_router()
}

/// Serves the HTTP surface over plain HTTP until `stop`.
pub async fn serve(
    coordinator: Coordinator,
    listener: tokio::net::TcpListener,
    stop: watch::Receiver<bool>,
) {
    let desk = coordinator.call_desk();
    let api = Api::new(coordinator, desk, HttpOptions::from_env());
    listen::serve(api, listener, None, stop).await;
}
