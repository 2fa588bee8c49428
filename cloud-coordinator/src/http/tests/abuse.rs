//! What an attacker or a careless client tries: parallel password guesses,
//! common passwords, removing the last administrator, cross-site form posts,
//! framing, and connections that send their header slowly.

use super::*;

/// A `tandem_logins_total` sample from `/metrics`.
async fn logins(h: &Harness, result: &str) -> u64 {
    let m = h.call("GET", "/metrics", None, "").await;
    let prefix = format!("tandem_logins_total{{result=\"{result}\"}} ");
    m.body
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{}", m.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_wrong_passwords_check_at_most_the_limit() {
    let h = Arc::new(Harness::new());
    let limit = HttpOptions::default().login_failures;
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move { h.login([10, 0, 0, 1], "ann", &format!("guess {i}")).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap().status);
    }
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(wrong, limit, "{statuses:?}");
    assert_eq!(wrong + throttled, 50, "{statuses:?}");
    assert_eq!(logins(&h, "verified").await, limit as u64, "argon2 runs");
    assert_eq!(logins(&h, "throttled").await, 50 - limit as u64);
    // Even the right password waits out the window: the guesses used it up.
    let r = h.login([10, 0, 0, 7], "ann", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another user at the same address is not locked out.
    let r = h.login([10, 0, 0, 1], "tom", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    h.advance(60);
    let r = h.login([10, 0, 0, 1], "ann", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_right_password_gives_its_attempt_back() {
    let h = Harness::new();
    let limit = HttpOptions::default().login_failures;
    for _ in 0..limit * 2 {
        let r = h.login([10, 0, 0, 1], "ann", PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    for _ in 0..limit {
        let r = h.login([10, 0, 0, 1], "ann", "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = h.login([10, 0, 0, 1], "ann", "guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn password_checks_run_a_bounded_number_at_a_time() {
    let h = Harness::new().with_options(|o| o.concurrent_verifications = 2);
    // Every turn taken (as by two slow checks in progress).
    let held = h.api.0.verifications.clone().acquire_many_owned(2).await;
    let started = std::time::Instant::now();
    let r = h.login([10, 0, 0, 1], "ann", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.headers["retry-after"], "1");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(logins(&h, "busy").await, 1);
    assert_eq!(logins(&h, "verified").await, 0);
    drop(held);
    // The refused attempt was not counted as a guess.
    let limit = HttpOptions::default().login_failures;
    for _ in 0..limit {
        let r = h.login([10, 0, 0, 1], "ann", "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = h.login([10, 0, 0, 1], "ann", "guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn common_passwords_are_refused_and_the_last_admin_stays() {
    let h = Harness::new();
    let admin = h.token(Role::Admin);
    let create = |user: &str, password: &str| {
        format!(r#"{{"username":"{user}","password":"{password}","role":"agent","agent":7}}"#)
    };
    for (user, password) in [
        ("lee", "password1"),
        ("lee", "QwertyUIOP"),
        ("lee", "1234567890"),
        ("lee", "short"),
        ("lee12345", "LEE12345"),
    ] {
        let body = create(user, password);
        let r = h
            .call("POST", "/api/v1/accounts", Some(&admin), &body)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}: {}",
            r.body
        );
        assert_eq!(r.field(), "password", "{password}");
    }
    let r = h
        .call(
            "POST",
            "/api/v1/accounts",
            Some(&admin),
            &create("lee", "tandem-demo"),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the demo password: {}",
        r.body
    );

    // ada is the only administrator: she may not demote herself, nor be removed.
    let demote = r#"{"username":"ada","role":"duty_manager"}"#;
    let r = h
        .call("PUT", "/api/v1/accounts/ada", Some(&admin), demote)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("last administrator")
    );
    let remove = AdminRequest::RemoveAccount {
        username: "ada".into(),
    };
    assert!(matches!(
        h.coordinator.admin(remove.clone()),
        AdminResponse::Error { message } if message.contains("last administrator")
    ));
    // With a second administrator, either may step down, but not both.
    let bea = r#"{"username":"bea","password":"tandem-demo","role":"admin"}"#;
    let r = h.call("POST", "/api/v1/accounts", Some(&admin), bea).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = h
        .call("PUT", "/api/v1/accounts/ada", Some(&admin), demote)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bea_token = h
        .coordinator
        .store()
        .create_session("bea", 1_000_000)
        .unwrap();
    let r = h
        .call(
            "PUT",
            "/api/v1/accounts/bea",
            Some(&bea_token),
            r#"{"username":"bea","role":"duty_manager"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(matches!(
        h.coordinator.admin(AdminRequest::RemoveAccount {
            username: "bea".into()
        }),
        AdminResponse::Error { .. }
    ));
    assert!(
        matches!(h.coordinator.admin(remove), AdminResponse::Done),
        "no longer an admin"
    );
}

/// A request authenticated by the session cookie, as a browser sends it.
fn with_cookie(
    method: &str,
    path: &str,
    cookie: &str,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> axum::http::Request<Body> {
    let mut b = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "tandem.example.com")
        .header("cookie", format!("tandem_session={cookie}"))
        .header("content-type", content_type);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused_and_a_same_origin_one_works() {
    let h = Harness::new();
    let ann = h.token(Role::Agent);
    let ip = [10, 0, 0, 1];
    let path = "/api/v1/agents/1/commands";
    // A page elsewhere posting a form whose text/plain body parses as JSON.
    let forged = r#""Ready""#;
    for extra in [
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ][..],
        &[("origin", "https://evil.example")][..],
        &[("sec-fetch-site", "same-site")][..],
        &[("origin", "null")][..],
        &[][..],
    ] {
        let r = h
            .send_from(
                ip,
                with_cookie("POST", path, &ann, "text/plain", forged, extra),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{extra:?}: {}", r.body);
        assert!(r.body.contains("cross-site"), "{}", r.body);
    }
    let logout = with_cookie(
        "POST",
        "/api/v1/auth/logout",
        &ann,
        "application/x-www-form-urlencoded",
        "a=b",
        &[("origin", "https://evil.example")],
    );
    assert_eq!(h.send_from(ip, logout).await.status, StatusCode::FORBIDDEN);
    assert!(h.desk.commands.lock().unwrap().is_empty(), "nothing ran");
    // Logging a victim in to the attacker's account, cross-site, is refused too.
    let login = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(Body::from(format!(
            r#"{{"username":"tom","password":"{PASSWORD}"}}"#
        )))
        .unwrap();
    assert_eq!(h.send_from(ip, login).await.status, StatusCode::FORBIDDEN);

    // Our own pages: same origin, by either header.
    let command = r#""Ready""#;
    for extra in [
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://tandem.example.com"),
        ][..],
        &[("origin", "http://tandem.example.com")][..],
    ] {
        let r = h
            .send_from(
                ip,
                with_cookie("POST", path, &ann, "application/json", command, extra),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{extra:?}: {}", r.body);
    }
    assert_eq!(h.desk.commands.lock().unwrap().len(), 2);
    // Reading needs no proof; a bearer token is no browser's ambient authority.
    let read = with_cookie("GET", "/api/v1/agents/1", &ann, "application/json", "", &[]);
    assert_eq!(h.send_from(ip, read).await.status, StatusCode::OK);
    let r = h.call("POST", path, Some(&ann), command).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn pages_carry_security_headers_that_their_own_scripts_satisfy() {
    let h = Harness::new();
    for page in ["/login", "/desk", "/wallboard", "/admin"] {
        let r = h.call("GET", page, None, "").await;
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self' 'sha256-"), "{page}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["referrer-policy"], "no-referrer");
        assert!(
            r.headers.get("strict-transport-security").is_none(),
            "plain HTTP"
        );
    }
    let api = h.call("GET", "/api/v1/auth/me", None, "").await;
    assert_eq!(
        api.headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    let login = h.login([1, 1, 1, 1], "ann", PASSWORD).await;
    let cookie = login.headers["set-cookie"].to_str().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Over HTTPS: HSTS, and the cookie never travels in clear.
    let h = h.with_options(|o| o.https = true);
    let login = h.login([1, 1, 1, 1], "ann", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    let cookie = login.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(
        login.headers["strict-transport-security"],
        "max-age=31536000"
    );
    let token = login.json()["token"].as_str().unwrap().to_owned();
    let out = h
        .call("POST", "/api/v1/auth/logout", Some(&token), "")
        .await;
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0; Secure")
    );
}

#[tokio::test]
async fn a_connection_that_sends_its_header_slowly_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::new().with_options(|o| o.header_read_timeout = Duration::from_millis(500));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let server = tokio::spawn(listen::serve(h.api.clone(), listener, None, stop));

    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // One header byte every 100 ms: never a whole header.
    let mut closed = false;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow
            .write_all(format!("x-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut buf = [0; 256];
        match tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            // hyper may answer 408 before closing.
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(closed, "the slow connection is still open");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A prompt client is served meanwhile and after.
    let health = raw_http(addr, "GET", "/healthz", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("x-frame-options: DENY"), "{health}");
    stop_tx.send(true).unwrap();
    server.await.unwrap();
}
