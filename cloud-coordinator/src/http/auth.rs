//! Login, logout, sessions, and the guard every protected route runs.

use super::authz::{self, Action, Granted, Scope};
use super::throttle::{LoginCounters, loggable};
use super::{Api, ApiError, JsonBody};
use crate::accounts::{self, AccountView};
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// How long a login waits for a turn to have its password checked.
const VERIFY_WAIT: Duration = Duration::from_secs(1);

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
    if body.username.is_empty() || body.username.len() > accounts::MAX_USERNAME {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
            format!("must be 1 to {} characters", accounts::MAX_USERNAME),
        ));
    }
    if body.password.chars().count() > accounts::MAX_PASSWORD {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
            format!("must be at most {} characters", accounts::MAX_PASSWORD),
        ));
    }
    let user = loggable(&body.username);
    let counters = &api.0.logins;
    let now = api.now();
    // Counted as a failure before the password is checked: parallel guesses
    // cannot all pass the limit while the first ones are still hashing.
    let reserved = api.limiter().reserve(&body.username, peer.ip(), now);
    let reservation = match reserved {
        Ok(r) => r,
        Err(secs) => {
            LoginCounters::bump(&counters.throttled);
            tracing::warn!(%user, %peer, "login refused: too many failures");
            return Err(ApiError {
                retry_after: Some(secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed logins; try again later",
                )
            });
        }
    };
    // Each check holds about 19 MiB for tens of milliseconds: a bounded number
    // run at once, and a login that cannot get a turn soon is told to retry.
    let permit = match tokio::time::timeout(
        VERIFY_WAIT,
        api.0.verifications.clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(permit)) => permit,
        _ => {
            // Not a guess: nothing was checked.
            api.limiter().release(reservation);
            LoginCounters::bump(&counters.busy);
            tracing::warn!(%user, %peer, "login refused: too many password checks running");
            return Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many logins at once; try again in a moment",
                )
            });
        }
    };
    LoginCounters::bump(&counters.verified);
    let account = api
        .blocking(move |c| {
            let _permit = permit;
            let account = c.store().account(&body.username)?;
            let hash = account
                .as_ref()
                .map_or(accounts::dummy_hash(), |a| a.password_hash.as_str());
            let ok = accounts::verify_password(&body.password, hash);
            Ok(account.filter(|_| ok))
        })
        .await?;
    let Some(account) = account else {
        LoginCounters::bump(&counters.failed);
        tracing::warn!(%user, %peer, "failed login");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong username or password",
        ));
    };
    api.limiter().release(reservation);
    let name = account.username.clone();
    let idle = api.0.options.session_idle.as_secs();
    let token = api
        .blocking(move |c| {
            c.store().sweep_sessions(now, idle)?;
            Ok(c.store().create_session(&name, now)?)
        })
        .await?;
    tracing::info!(user = %account.username, role = %account.role, %peer, "login");
    let cookie = session_cookie(&api, &token, idle);
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

/// The `Set-Cookie` value for a session (an empty token and no age: the end
/// of one). `Secure` over HTTPS, so the browser never sends it in clear.
fn session_cookie(api: &Api, token: &str, max_age: u64) -> String {
    let secure = if api.0.options.https { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    )
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
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&api, "", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub async fn me(axum::Extension(granted): axum::Extension<Granted>) -> Json<AccountView> {
    Json(AccountView::from(&granted.account))
}
