//! Login, logout, sessions, and the guard every protected route runs.

use super::authz::{self, Action, Granted, Scope};
use super::{Api, ApiError, JsonBody};
use crate::accounts::{self, AccountView};
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// The cookie the web pages use (EventSource cannot send headers).
pub const SESSION_COOKIE: &str = "tandem_session";

/// The session token of a request: `Authorization: Bearer`, else the cookie.
fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Resolves the session and applies the role table; the handler receives the
/// [`Granted`] as a request extension.
pub async fn guard(
    State((api, action)): State<(Api, Action)>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = token_of(request.headers()) else {
        return ApiError::unauthorized().into_response();
    };
    let (now, idle) = (api.now(), api.0.options.session_idle.as_secs());
    let lookup = token.clone();
    let account = match api
        .blocking(move |c| Ok(c.store().session(&lookup, now, idle)?))
        .await
    {
        Ok(Some(account)) => account,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    let scope = authz::scope(account.role, action);
    if scope == Scope::None {
        return ApiError::forbidden(format!("{} may not do this", account.role)).into_response();
    }
    request.extensions_mut().insert(Granted {
        account,
        scope,
        token,
    });
    next.run(request).await
}

/// Failed logins per user and per client address within a sliding window.
pub struct LoginLimiter {
    max: usize,
    window: u64,
    failures: HashMap<String, VecDeque<u64>>,
}

impl LoginLimiter {
    pub fn new(max: usize, window_secs: u64) -> Self {
        LoginLimiter {
            max,
            window: window_secs,
            failures: HashMap::new(),
        }
    }

    fn prune(&mut self, now: u64) {
        let window = self.window;
        self.failures.retain(|_, times| {
            while times.front().is_some_and(|t| now >= t + window) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    /// Seconds until another attempt is allowed for any of `keys`, if blocked.
    pub fn blocked(&mut self, keys: &[String], now: u64) -> Option<u64> {
        self.prune(now);
        keys.iter()
            .filter_map(|k| self.failures.get(k))
            .filter(|times| times.len() >= self.max)
            .filter_map(|times| times.get(times.len() - self.max))
            .map(|oldest| (oldest + self.window).saturating_sub(now).max(1))
            .max()
    }

    pub fn failed(&mut self, keys: &[String], now: u64) {
        for k in keys {
            self.failures.entry(k.clone()).or_default().push_back(now);
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize)]
pub struct LoginResponse {
    token: String,
    expires_idle_secs: u64,
    account: AccountView,
}

pub async fn login(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    if body.username.is_empty() {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
            "must not be empty",
        ));
    }
    let now = api.now();
    let keys = [
        format!("user:{}", body.username),
        format!("ip:{}", peer.ip()),
    ];
    let blocked = api
        .0
        .limiter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .blocked(&keys, now);
    if let Some(secs) = blocked {
        tracing::warn!(user = %body.username, %peer, "login refused: too many failures");
        return Err(ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins; try again later",
            )
        });
    }
    let username = body.username.clone();
    let account = api
        .blocking(move |c| {
            let account = c.store().account(&body.username)?;
            let hash = account
                .as_ref()
                .map_or(accounts::dummy_hash(), |a| a.password_hash.as_str());
            let ok = accounts::verify_password(&body.password, hash);
            Ok(account.filter(|_| ok))
        })
        .await?;
    let Some(account) = account else {
        api.0
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failed(&keys, now);
        tracing::warn!(user = %username, %peer, "failed login");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong username or password",
        ));
    };
    let name = account.username.clone();
    let idle = api.0.options.session_idle.as_secs();
    let token = api
        .blocking(move |c| {
            c.store().sweep_sessions(now, idle)?;
            Ok(c.store().create_session(&name, now)?)
        })
        .await?;
    tracing::info!(user = %account.username, role = %account.role, %peer, "login");
    let cookie =
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={idle}");
    let mut response = Json(LoginResponse {
        token,
        expires_idle_secs: idle,
        account: AccountView::from(&account),
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub async fn logout(
    State(api): State<Api>,
    axum::Extension(granted): axum::Extension<Granted>,
) -> Result<Response, ApiError> {
    let token = granted.token.clone();
    api.blocking(move |c| Ok(c.store().end_session(&token)?))
        .await?;
    tracing::info!(user = %granted.account.username, "logout");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tandem_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

pub async fn me(axum::Extension(granted): axum::Extension<Granted>) -> Json<AccountView> {
    Json(AccountView::from(&granted.account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_after_the_fifth_failure_until_the_window_passes() {
        let mut l = LoginLimiter::new(5, 60);
        let keys = ["user:a".to_owned()];
        for t in 0..5 {
            assert_eq!(l.blocked(&keys, 100 + t), None);
            l.failed(&keys, 100 + t);
        }
        assert_eq!(l.blocked(&keys, 105), Some(55));
        assert_eq!(l.blocked(&keys, 159), Some(1));
        assert_eq!(l.blocked(&keys, 160), None);
        assert_eq!(l.blocked(&["user:b".to_owned()], 105), None);
    }
}
