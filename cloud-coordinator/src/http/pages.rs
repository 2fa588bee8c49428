//! The web pages, compiled into the binary: plain HTML, CSS and ES modules that
//! talk to the API (no build step).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;

macro_rules! web {
    ($file:literal) => {
        include_str!(concat!("../../web/", $file))
    };
}

pub async fn index() -> Redirect {
    Redirect::to("/login")
}

pub async fn login() -> Response {
    page(web!("login.html"))
}

pub async fn desk() -> Response {
    page(web!("desk.html"))
}

pub async fn wallboard() -> Response {
    page(web!("wallboard.html"))
}

pub async fn admin() -> Response {
    page(web!("admin.html"))
}

/// A page with its Content-Security-Policy: scripts only from this server and
/// the page's own inline module (by its SHA-256, so an injected script does not
/// run), styles from this server and inline `style` attributes (the forms size
/// their inputs that way; a style cannot run code), requests and the event
/// stream to this server only, forms posted only here, and no framing.
fn page(html: &'static str) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'self'{}; style-src 'self' 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'",
        script_hashes(html)
    );
    ([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response()
}

/// `'sha256-…'` sources for each inline script of `html`, each after a space.
fn script_hashes(html: &str) -> String {
    html.split("<script")
        .skip(1)
        .filter_map(|rest| {
            let (open, body) = rest.split_once('>')?;
            let (script, _) = body.split_once("</script>")?;
            (!open.contains("src=")).then_some(script)
        })
        .map(|script| {
            let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
            let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
            format!(" 'sha256-{hash}'")
        })
        .collect()
}

/// Scripts and style sheets, by name.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", web!("app.js")),
    (
        "admin-config.js",
        "text/javascript; charset=utf-8",
        web!("admin-config.js"),
    ),
    ("i18n.js", "text/javascript; charset=utf-8", web!("i18n.js")),
    ("style.css", "text/css; charset=utf-8", web!("style.css")),
];

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_page_allows_exactly_its_own_inline_script() {
        for page in [
            web!("login.html"),
            web!("desk.html"),
            web!("wallboard.html"),
            web!("admin.html"),
        ] {
            let hashes = super::script_hashes(page);
            assert_eq!(
                hashes.matches("'sha256-").count(),
                page.matches("<script").count()
            );
            assert_eq!(hashes.len(), page.matches("<script").count() * 54);
        }
        let doctored = web!("login.html").replace("applyLabels();", "applyLabels(); evil();");
        assert_ne!(
            super::script_hashes(&doctored),
            super::script_hashes(web!("login.html"))
        );
    }

    /// Every label a page uses: `data-i18n`, `data-i18n-placeholder` and
    /// `t("…")`; in the form specs also `label: "…"`, `none: "…"` and the label
    /// of a `["value", "label"]` option pair.
    fn labels(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let markers = [
            "data-i18n=\"",
            "data-i18n-placeholder=\"",
            "t(\"",
            "label: \"",
            "none: \"",
            "\", \"",
        ];
        for marker in markers {
            for (at, _) in text.match_indices(marker) {
                // `t(` the function, not the end of `split(` or `set(`.
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if marker == "t(\"" && (before.is_alphanumeric() || before == '_') {
                    continue;
                }
                let rest = &text[at + marker.len()..];
                let Some((key, after)) = rest.split_once('"') else {
                    continue;
                };
                let pair = marker == "\", \"";
                let head = &text[..at];
                let opens_pair = head
                    .rfind('"')
                    .is_some_and(|open| head[..open].ends_with('['));
                let is_key = key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if !pair || (opens_pair && is_key && !key.is_empty() && after.starts_with(']')) {
                    out.push(key);
                }
            }
        }
        out
    }

    #[test]
    fn every_label_exists_in_english_and_chinese() {
        let i18n = web!("i18n.js");
        let (en, zh) = i18n.split_once("  zh: {").expect("a zh block");
        let pages = [
            web!("login.html"),
            web!("desk.html"),
            web!("wallboard.html"),
            web!("admin.html"),
            web!("app.js"),
            web!("admin-config.js"),
        ];
        assert!(labels(web!("admin-config.js")).len() > 100);
        assert!(labels(web!("desk.html")).len() > 20);
        for page in pages {
            for key in labels(page) {
                let entry = format!(" {key}: \"");
                assert!(en.contains(&entry), "{key} has no English label");
                assert!(zh.contains(&entry), "{key} has no Chinese label");
            }
        }
    }
}
