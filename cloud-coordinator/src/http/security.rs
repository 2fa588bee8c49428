//! What every response and every state-changing request goes through: the
//! cross-site request check (CSRF) and the browser security headers.
//!
//! A browser sends the session cookie with any request to this host, even one
//! a page elsewhere makes it send (a form posted cross-site). So a request that
//! changes something (POST, PUT, PATCH, DELETE) and does not carry a bearer token
//! (which no other site can make a browser attach) must show that it comes from
//! our own pages: `Sec-Fetch-Site: same-origin` (every current browser sends
//! it), or else an `Origin` equal to this server's. A request with the cookie
//! and neither header is refused too; scripts and integrations send
//! `Authorization: Bearer`. A request with a cross-site origin is refused even
//! without a cookie (the login form: no logging a victim into the attacker's
//! account).

use super::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The policy of everything that is not a page (JSON, CSV, metrics, scripts):
/// nothing may load from it as a document, and nothing may frame it.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Runs the cross-site check, then adds the security headers to the response
/// (`https`: served over TLS, so HSTS too).
pub async fn protect(State(https): State<bool>, request: Request, next: Next) -> Response {
    let refused = cross_site(request.method(), request.headers(), https);
    let mut response = match refused {
        Some(why) => {
            tracing::warn!(
                method = %request.method(),
                path = ?request.uri().path(),
                why,
                "cross-site request refused"
            );
            ApiError::forbidden(format!("cross-site request refused: {why}")).into_response()
        }
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, DEFAULT_CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

/// Why a request may not have come from our own pages, if it may not.
fn cross_site(method: &Method, headers: &HeaderMap, https: bool) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("authorization").is_some_and(|v| v.starts_with("Bearer ")) {
        return None;
    }
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            // `none`: the user typed or bookmarked it, no page involved.
            "same-origin" | "none" => None,
            _ => Some("Sec-Fetch-Site is not same-origin"),
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let scheme = if https { "https" } else { "http" };
        let ours = text("host").map(|host| format!("{scheme}://{host}"));
        let same = origin
            .to_str()
            .ok()
            .zip(ours)
            .is_some_and(|(origin, ours)| origin.eq_ignore_ascii_case(&ours));
        return (!same).then_some("Origin is not this server");
    }
    let has_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|kv| {
            kv.trim()
                .starts_with(&format!("{}=", super::auth::SESSION_COOKIE))
        });
    has_cookie
        .then_some("a session cookie without Origin or Sec-Fetch-Site (send Authorization: Bearer)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_changes_without_proof_of_our_origin_are_refused() {
        let cookie = ("cookie", "tandem_session=abc");
        let host = ("host", "tandem.example.com:8080");
        let post = &Method::POST;
        let ok = |pairs: &[(&'static str, &'static str)], https| {
            cross_site(post, &headers(pairs), https).is_none()
        };
        assert!(cross_site(&Method::GET, &headers(&[cookie]), false).is_none());
        assert!(ok(&[cookie, ("sec-fetch-site", "same-origin")], false));
        assert!(!ok(&[cookie, ("sec-fetch-site", "cross-site")], false));
        assert!(!ok(&[cookie, ("sec-fetch-site", "same-site")], false));
        let same = ("origin", "http://tandem.example.com:8080");
        assert!(ok(&[cookie, host, same], false));
        assert!(!ok(&[cookie, host, same], true), "scheme differs");
        assert!(ok(
            &[cookie, host, ("origin", "https://tandem.example.com:8080")],
            true
        ));
        assert!(!ok(
            &[cookie, host, ("origin", "http://evil.example")],
            false
        ));
        assert!(!ok(&[cookie, host, ("origin", "null")], false));
        assert!(
            !ok(
                &[cookie, ("origin", "http://tandem.example.com:8080")],
                false
            ),
            "no host"
        );
        assert!(!ok(&[cookie], false), "cookie and no proof");
        assert!(ok(&[], false), "no cookie: no ambient authority");
        assert!(
            !ok(&[("origin", "http://evil.example"), host], false),
            "login CSRF"
        );
        let bearer = ("authorization", "Bearer t");
        assert!(ok(
            &[cookie, bearer, ("sec-fetch-site", "cross-site")],
            false
        ));
        assert!(!ok(&[("cookie", "theme=1; tandem_session=x")], false));
        assert!(ok(&[("cookie", "theme=1")], false));
    }
}
