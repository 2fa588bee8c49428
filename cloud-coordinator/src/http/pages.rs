//! The web pages, compiled into the binary: plain HTML, CSS and ES modules that
//! talk to the API (no build step).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

macro_rules! web {
    ($file:literal) => {
        include_str!(concat!("../../web/", $file))
    };
}

pub async fn index() -> Redirect {
    Redirect::to("/login")
}

pub async fn login() -> Html<&'static str> {
    Html(web!("login.html"))
}

pub async fn desk() -> Html<&'static str> {
    Html(web!("desk.html"))
}

pub async fn wallboard() -> Html<&'static str> {
    Html(web!("wallboard.html"))
}

pub async fn admin() -> Html<&'static str> {
    Html(web!("admin.html"))
}

/// Scripts and style sheets, by name.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", web!("app.js")),
    ("i18n.js", "text/javascript; charset=utf-8", web!("i18n.js")),
    ("style.css", "text/css; charset=utf-8", web!("style.css")),
];

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
