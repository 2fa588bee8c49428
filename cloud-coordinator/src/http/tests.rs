//! API tests through the router (tower `oneshot`), with a call-desk double and
//! an injected clock.

use super::*;
use crate::accounts::{AccountSpec, Role};
use crate::admin::{AdminRequest, AdminResponse};
use crate::events::Event;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::HeaderMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use tandem_node::calls::{AgentCommand, AgentView, CenterConfig, ValidCenterConfig};
use tandem_node::routing::{AgentId, AgentState, CallId, GroupId};
use tower::ServiceExt;

mod abuse;
mod config_sections;

const DEMO: &str = include_str!("../../../center-configs/demo.toml");
const PASSWORD: &str = "correct horse battery";

/// Call control double: remembers commands, knows four agents in two groups.
#[derive(Default)]
struct Desk {
    commands: Mutex<Vec<(AgentId, AgentCommand)>>,
    config: Mutex<Option<(u64, CenterConfig)>>,
}

impl Desk {
    fn load(&self, text: &str) {
        let valid = ValidCenterConfig::from_toml(text).unwrap();
        *self.config.lock().unwrap() = Some((1, valid.config().clone()));
    }
}

impl CallDesk for Desk {
    fn agent_command(&self, agent: AgentId, command: AgentCommand) -> Result<AgentView, DeskError> {
        if command == AgentCommand::Answer {
            return Err(DeskError::Refused("nothing is ringing".into()));
        }
        self.commands.lock().unwrap().push((agent, command.clone()));
        Ok(AgentView {
            state: Some(match command {
                AgentCommand::Ready => AgentState::Ready,
                _ => AgentState::LoggedOut,
            }),
            ..AgentView::default()
        })
    }
    fn agent_view(&self, agent: AgentId) -> Option<AgentView> {
        (1..=4).contains(&agent.0).then(|| AgentView {
            caller: Some(caller_of(agent.0)),
            call: Some(CallId(WIDE_CALL)),
            ..AgentView::default()
        })
    }
    fn dispositions(&self, calls: &[CallId]) -> std::collections::HashMap<CallId, String> {
        calls
            .iter()
            .map(|c| (*c, format!("resolved-{c}")))
            .collect()
    }
    fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({ "queues": [{ "queue": 1, "waiting": 2 }], "agents": [] })
    }
    fn config(&self) -> Option<(u64, CenterConfig)> {
        self.config.lock().unwrap().clone()
    }
    fn update_config(&self, expected: Option<u64>, edit: ConfigEdit<'_>) -> Result<u64, ApiError> {
        let mut config = self.config.lock().unwrap();
        let version = config.as_ref().map_or(0, |(v, _)| *v);
        if expected.is_some_and(|e| e != version) {
            return Err(DeskError::Refused("stale".into()).into());
        }
        let valid = edit(config.as_ref().map(|(_, c)| c))?;
        *config = Some((version + 1, valid.config().clone()));
        Ok(version + 1)
    }
    fn agent_groups(&self, agent: AgentId) -> Vec<GroupId> {
        match agent.0 {
            1 | 2 => vec![GroupId(1)],
            4 => vec![GroupId(2)],
            _ => vec![],
        }
    }
    fn metrics(&self) -> DeskMetrics {
        DeskMetrics {
            calls_active: 0,
            queue_depth: vec![(QueueId(1), 2)],
            routing_latency: crate::calls::latency::LatencySnapshot {
                buckets: vec![(10, 1), (50, 3)],
                count: 4,
                sum_us: 120,
            },
        }
    }
}

/// The call each test agent is on: above 2^53, as a gateway's ids are (2^53 + 3
/// is no double: JavaScript would read 2^53 + 4).
const WIDE_CALL: u64 = (1 << 53) + 3;

/// The number of the call each test agent is on.
fn caller_of(agent: u32) -> String {
    format!("0105550{agent}")
}

/// user, role, agent, groups
const PEOPLE: [(&str, Role, Option<u32>, &[u32]); 4] = [
    ("ann", Role::Agent, Some(1), &[]),
    ("tom", Role::TeamLead, Some(2), &[1]),
    ("dora", Role::DutyManager, Some(3), &[]),
    ("ada", Role::Admin, None, &[]),
];

struct Harness {
    _dir: tempfile::TempDir,
    coordinator: Coordinator,
    api: Api,
    desk: Arc<Desk>,
    now: Arc<AtomicU64>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn field(&self) -> String {
        self.json()["field"].as_str().unwrap_or_default().to_owned()
    }
}

fn user_of(role: Role) -> &'static str {
    PEOPLE.iter().find(|p| p.1 == role).unwrap().0
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let coordinator = Coordinator::open(dir.path()).unwrap();
        // Reports read the coordinator's own configuration (queue names, agents).
        coordinator.load_config(DEMO).unwrap();
        for (user, role, agent, groups) in PEOPLE {
            coordinator
                .store()
                .put_account(
                    &AccountSpec {
                        username: user.into(),
                        password: Some(PASSWORD.into()),
                        role,
                        agent: agent.map(AgentId),
                        groups: groups.iter().copied().map(GroupId).collect(),
                    },
                    true,
                    1,
                )
                .unwrap();
        }
        let now = Arc::new(AtomicU64::new(1_000_000));
        let clock_now = now.clone();
        let desk = Arc::new(Desk::default());
        let api = Api::new(
            coordinator.clone(),
            desk.clone(),
            HttpOptions {
                clock: Arc::new(move || clock_now.load(Ordering::SeqCst)),
                session_check: Duration::from_millis(50),
                ..HttpOptions::default()
            },
        );
        Harness {
            _dir: dir,
            coordinator,
            api,
            desk,
            now,
        }
    }

    /// The same harness with the coordinator's real call control behind the
    /// API instead of the double.
    fn with_real_desk(mut self) -> Self {
        let now = self.now.clone();
        self.api = Api::new(
            self.coordinator.clone(),
            self.coordinator.call_desk(),
            HttpOptions {
                clock: Arc::new(move || now.load(Ordering::SeqCst)),
                ..HttpOptions::default()
            },
        );
        self
    }

    /// The same harness with `edit` applied to its HTTP options.
    fn with_options(mut self, edit: impl FnOnce(&mut HttpOptions)) -> Self {
        let now = self.now.clone();
        let mut options = HttpOptions {
            clock: Arc::new(move || now.load(Ordering::SeqCst)),
            session_check: Duration::from_millis(50),
            ..HttpOptions::default()
        };
        edit(&mut options);
        self.api = Api::new(self.coordinator.clone(), self.desk.clone(), options);
        self
    }

    /// The live event stream as `token` sees it.
    async fn open_events(&self, token: String) -> axum::body::BodyDataStream {
        let app =
            router(self.api.clone()).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
        let r = app
            .oneshot(request("GET", "/api/v1/events", Some(&token), ""))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        r.into_body().into_data_stream()
    }

    fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }

    /// A fresh session for `role`'s account (no password hashing).
    fn token(&self, role: Role) -> String {
        self.coordinator
            .store()
            .create_session(user_of(role), self.now.load(Ordering::SeqCst))
            .unwrap()
    }

    async fn send_from(&self, ip: [u8; 4], request: axum::http::Request<Body>) -> Reply {
        let app = router(self.api.clone()).layer(MockConnectInfo(SocketAddr::from((ip, 5000))));
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let streaming = headers
            .get("content-type")
            .is_some_and(|v| v == "text/event-stream");
        let bytes = if streaming {
            axum::body::Bytes::new() // never ends
        } else {
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
        };
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> Reply {
        self.send_from([127, 0, 0, 1], request(method, path, token, body))
            .await
    }

    /// Enrolls a node with id `id` at site bj-01.
    fn enroll(&self, id: &str) -> crate::store::NodeRecord {
        let site = tandem_node::names::Site::new("bj-01").unwrap();
        let token = self.coordinator.create_token(site, 60).unwrap();
        let id = tandem_node::names::NodeId::new(id).unwrap();
        let enrolled = self
            .coordinator
            .store()
            .enroll(
                &token,
                [1; 32],
                self.coordinator.now_secs(),
                |_| Ok(id.clone()),
                |_, _| Ok(vec![]),
            )
            .unwrap();
        enrolled.unwrap().0
    }

    async fn command(&self, token: &str, agent: u32, body: &str) -> StatusCode {
        let path = format!("/api/v1/agents/{agent}/commands");
        self.call("POST", &path, Some(token), body).await.status
    }

    async fn view(&self, token: &str, agent: u32) -> StatusCode {
        let path = format!("/api/v1/agents/{agent}");
        self.call("GET", &path, Some(token), "").await.status
    }

    async fn login(&self, ip: [u8; 4], user: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "username": user, "password": password }).to_string();
        self.send_from(ip, request("POST", "/api/v1/auth/login", None, &body))
            .await
    }
}

fn request(method: &str, path: &str, token: Option<&str>, body: &str) -> axum::http::Request<Body> {
    let mut b = axum::http::Request::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if !body.is_empty() {
        b = b.header("content-type", "application/json");
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

/// Each endpoint of the OpenAPI document, a request that is valid for the roles
/// allowed to make it, and who is allowed (agent, team lead, duty manager,
/// admin). Agent-scoped requests target the caller's own agent.
fn role_table() -> Vec<(&'static str, &'static str, [bool; 4])> {
    const ALL: [bool; 4] = [true; 4];
    const ADMIN: [bool; 4] = [false, false, false, true];
    vec![
        ("GET", "/healthz", ALL),
        ("GET", "/metrics", ALL),
        ("GET", "/api/v1/openapi.json", ALL),
        ("POST", "/api/v1/auth/login", ALL),
        ("POST", "/api/v1/auth/logout", ALL),
        ("GET", "/api/v1/auth/me", ALL),
        ("GET", "/api/v1/nodes", [false, false, true, true]),
        ("POST", "/api/v1/nodes/tokens", ADMIN),
        ("POST", "/api/v1/nodes/{id}/revoke", ADMIN),
        ("GET", "/api/v1/agents/{id}", ALL),
        ("GET", "/api/v1/agents/{id}/stats", ALL),
        ("POST", "/api/v1/agents/{id}/commands", ALL),
        ("GET", "/api/v1/config", [false, false, true, true]),
        ("PUT", "/api/v1/config", ADMIN),
        (
            "GET",
            "/api/v1/config/{section}",
            [false, false, true, true],
        ),
        ("PUT", "/api/v1/config/{section}", ADMIN),
        (
            "GET",
            "/api/v1/config/{section}/{key}",
            [false, false, true, true],
        ),
        ("PUT", "/api/v1/config/{section}/{key}", ADMIN),
        ("DELETE", "/api/v1/config/{section}/{key}", ADMIN),
        ("GET", "/api/v1/summary", [false, true, true, true]),
        ("GET", "/api/v1/cdrs", [false, true, true, true]),
        ("GET", "/api/v1/reports", [false, false, true, true]),
        ("GET", "/api/v1/history", ALL),
        ("GET", "/api/v1/events", ALL),
        ("GET", "/api/v1/accounts", ADMIN),
        ("POST", "/api/v1/accounts", ADMIN),
        ("PUT", "/api/v1/accounts/{username}", ADMIN),
        ("DELETE", "/api/v1/accounts/{username}", ADMIN),
    ]
}

/// The OpenAPI document's operations.
fn documented() -> BTreeSet<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ops = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            let public = op.get("security").is_some();
            let responses = &op["responses"];
            let documents_refusals = ["401", "403"].iter().all(|s| responses.get(s).is_some());
            assert!(public || documents_refusals, "{method} {path}: 401 and 403");
            // A public change may still be refused as cross-site.
            assert!(
                !public || method != "get" || responses.get("403").is_none(),
                "{method} {path}: no 403"
            );
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/metrics" || path == "/healthz")
}

#[test]
fn the_openapi_document_lists_exactly_the_routes_of_the_router() {
    let h = Harness::new();
    let routed: BTreeSet<(String, String)> = routes(h.api.clone())
        .list()
        .iter()
        .filter(|(_, path, _)| !is_page(path))
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(routed, documented());
    let public: BTreeSet<(String, String)> = routes(h.api.clone())
        .list()
        .iter()
        .filter(|(_, path, action)| action.is_none() && !is_page(path))
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
    for (method, path) in &public {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert_eq!(
            op["security"],
            serde_json::json!([]),
            "{method} {path} is public"
        );
    }
    let tabled: BTreeSet<(String, String)> = role_table()
        .into_iter()
        .map(|(m, p, _)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(tabled, documented(), "the role table covers every endpoint");
}

#[tokio::test]
async fn every_role_gets_exactly_the_endpoints_the_table_allows() {
    let h = Harness::new();
    h.enroll("bj-01-x");
    h.desk.load(DEMO);
    for (name, role) in [("victim-put", Role::Agent), ("victim-del", Role::Agent)] {
        h.coordinator
            .store()
            .put_account(
                &AccountSpec {
                    username: name.into(),
                    password: Some(PASSWORD.into()),
                    role,
                    agent: Some(AgentId(4)),
                    groups: vec![],
                },
                true,
                1,
            )
            .unwrap();
    }
    let public: BTreeSet<&str> = routes(h.api.clone())
        .list()
        .iter()
        .filter(|(_, _, action)| action.is_none())
        .map(|(_, p, _)| *p)
        .collect();
    for (method, template, allowed) in role_table() {
        for (i, (user, role, agent, _)) in PEOPLE.into_iter().enumerate() {
            let agent = agent.unwrap_or(1).to_string();
            let path = template
                .replace(
                    "{id}",
                    if template.contains("nodes") {
                        "bj-01-x"
                    } else {
                        &agent
                    },
                )
                .replace(
                    "{username}",
                    if method == "PUT" {
                        "victim-put"
                    } else {
                        "victim-del"
                    },
                )
                .replace(
                    "{section}",
                    match (method, template.ends_with("{key}")) {
                        (_, true) => "sites",
                        ("PUT", false) => "blacklist",
                        _ => "queues",
                    },
                )
                .replace("{key}", "bj-01");
            let path = match template {
                "/api/v1/history" => {
                    format!("{path}?number={}", caller_of(agent.parse().unwrap()))
                }
                "/api/v1/reports" => format!("{path}?from=2026-11-01&to=2026-11-30&period=week"),
                _ => path,
            };
            let body = match (method, template) {
                ("POST", "/api/v1/auth/login") => {
                    serde_json::json!({ "username": user, "password": PASSWORD }).to_string()
                }
                ("POST", "/api/v1/nodes/tokens") => r#"{"site":"bj-01"}"#.to_owned(),
                ("POST", "/api/v1/agents/{id}/commands") => r#""Ready""#.to_owned(),
                ("PUT", "/api/v1/config") => DEMO.to_owned(),
                ("PUT", "/api/v1/config/{section}") => "[]".to_owned(),
                ("PUT", "/api/v1/config/{section}/{key}") => {
                    r#"{"site":"bj-01","flow":"branch"}"#.to_owned()
                }
                ("POST", "/api/v1/accounts") => format!(
                    r#"{{"username":"new-{i}","password":"{PASSWORD}","role":"duty_manager"}}"#
                ),
                ("PUT", _) => format!(
                    r#"{{"username":"victim-put","role":"agent","agent":{}}}"#,
                    4 + i
                ),
                _ => String::new(),
            };
            let token = h.token(role);
            let reply = h.call(method, &path, Some(&token), &body).await;
            let context = format!("{role} {method} {path}: {} {}", reply.status, reply.body);
            if allowed[i] {
                assert!(reply.status.is_success(), "allowed but refused: {context}");
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{context}");
                assert!(reply.json()["error"].is_string(), "{context}");
            }
            if !public.contains(template) {
                let anonymous = h.call(method, &path, None, &body).await;
                assert_eq!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn login_me_logout_by_header_and_cookie() {
    let h = Harness::new();
    let wrong = h.login([1, 1, 1, 1], "ann", "wrong password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.json()["error"].is_string());
    let unknown = h.login([1, 1, 1, 1], "nobody", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    let ok = h.login([1, 1, 1, 1], "tom", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let token = ok.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(ok.json()["account"]["role"], "team_lead");
    assert_eq!(ok.json()["account"]["groups"], serde_json::json!([1]));
    assert!(ok.json()["account"].get("password_hash").is_none());
    let cookie = ok.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    let me = h.call("GET", "/api/v1/auth/me", Some(&token), "").await;
    assert_eq!(me.json()["username"], "tom");
    let by_cookie = axum::http::Request::builder()
        .uri("/api/v1/auth/me")
        .header(
            "cookie",
            format!("theme=dark; {}", cookie.split(';').next().unwrap()),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        h.send_from([1, 1, 1, 1], by_cookie).await.status,
        StatusCode::OK
    );

    let out = h
        .call("POST", "/api/v1/auth/logout", Some(&token), "")
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = h.call("GET", "/api/v1/auth/me", Some(&token), "").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let garbage = h.call("GET", "/api/v1/auth/me", Some("nonsense"), "").await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_are_limited_per_user_and_per_address() {
    let h = Harness::new();
    for _ in 0..5 {
        let r = h.login([10, 0, 0, 1], "ann", "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Blocked for this user, even with the right password, from anywhere.
    let blocked = h.login([10, 0, 0, 2], "ann", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked.headers["retry-after"], "60");
    assert!(blocked.json()["error"].is_string());
    h.advance(30);
    let r = h.login([10, 0, 0, 2], "ann", PASSWORD).await;
    assert_eq!(r.headers["retry-after"], "30");
    // Other users are not affected, from another address.
    assert_eq!(
        h.login([10, 0, 0, 2], "tom", PASSWORD).await.status,
        StatusCode::OK
    );
    h.advance(30);
    assert_eq!(
        h.login([10, 0, 0, 2], "ann", PASSWORD).await.status,
        StatusCode::OK
    );

    // Per address, looser: one address trying many names.
    let per_address = HttpOptions::default().login_failures_per_address;
    for i in 0..per_address {
        let r = h.login([10, 0, 0, 9], &format!("user{i}"), "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = h.login([10, 0, 0, 9], "dora", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        h.login([10, 0, 0, 8], "dora", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sessions_expire_after_twelve_idle_hours() {
    let h = Harness::new();
    let token = h.token(Role::Agent);
    h.advance(11 * 3600);
    let r = h.call("GET", "/api/v1/auth/me", Some(&token), "").await;
    assert_eq!(r.status, StatusCode::OK, "used: the idle clock restarts");
    h.advance(11 * 3600);
    let r = h.call("GET", "/api/v1/auth/me", Some(&token), "").await;
    assert_eq!(r.status, StatusCode::OK);
    h.advance(12 * 3600 + 1);
    let r = h.call("GET", "/api/v1/auth/me", Some(&token), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_changes_nothing() {
    let h = Harness::new();
    let admin = h.token(Role::Admin);
    let cases: &[(&str, &str, &str, StatusCode, &str)] = &[
        (
            "POST",
            "/api/v1/auth/login",
            r#"{"username":"ann"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            "POST",
            "/api/v1/auth/login",
            r#"{"username":"ann","#,
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "POST",
            "/api/v1/auth/login",
            r#"{"username":"","password":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            "POST",
            "/api/v1/nodes/tokens",
            r#"{"site":"Bad Site"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "site",
        ),
        (
            "POST",
            "/api/v1/nodes/tokens",
            r#"{"site":"bj-01","ttl_secs":0}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ttl_secs",
        ),
        (
            "POST",
            "/api/v1/nodes/tokens",
            r#"{"site":"bj-01","extra":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "extra",
        ),
        (
            "POST",
            "/api/v1/nodes/NOT%20A%20NODE/revoke",
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "GET",
            "/api/v1/agents/abc",
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "POST",
            "/api/v1/agents/1/commands",
            r#""Dance""#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
        ),
        (
            "POST",
            "/api/v1/agents/1/commands",
            r#"{"NotReady":{"reason":" "}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "NotReady.reason",
        ),
        (
            "POST",
            "/api/v1/agents/1/commands",
            r#"{"NotReady":{}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "NotReady.reason",
        ),
        (
            "POST",
            "/api/v1/agents/1/commands",
            r#"{"Dial":{"site":"bj-01","number":"12ab"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Dial.number",
        ),
        (
            "PUT",
            "/api/v1/config",
            "routing = 3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
        ),
        (
            "GET",
            "/api/v1/cdrs?format=xml",
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "format",
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"username":"x","password":"short","role":"admin"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"username":"x","password":"long enough","role":"agent"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "agent",
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"username":"x","password":"long enough","role":"team_lead","agent":5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "groups",
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"username":"x y","password":"long enough","role":"admin"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"username":"x","password":"long enough","role":"king"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "role",
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"username":"ann","password":"long enough","role":"admin"}"#,
            StatusCode::CONFLICT,
            "username",
        ),
        (
            "PUT",
            "/api/v1/accounts/ann",
            r#"{"username":"bob","role":"admin"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let r = h.call(method, path, Some(&admin), body).await;
        assert_eq!(r.status, *status, "{method} {path} {body}: {}", r.body);
        assert_eq!(r.field(), *field, "{method} {path} {body}: {}", r.body);
    }
    assert!(h.desk.commands.lock().unwrap().is_empty());
    assert_eq!(
        h.coordinator.store().accounts().unwrap().len(),
        PEOPLE.len()
    );

    // A configuration naming an unknown agent: the field, and nothing applied.
    let bad = DEMO.replacen("[[seats]]\nagent = ", "[[seats]]\nagent = 9999 #", 1);
    assert_ne!(bad, DEMO, "the demo configuration has seats");
    let r = h.call("PUT", "/api/v1/config", Some(&admin), &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.field(), "seats[0].agent");
    assert!(h.desk.config().is_none());
    let r = h.call("GET", "/api/v1/config", Some(&admin), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h.call("PUT", "/api/v1/config", Some(&admin), DEMO).await;
    assert_eq!(r.json()["version"], 1);
    let r = h.call("GET", "/api/v1/config", Some(&admin), "").await;
    let shown = ValidCenterConfig::from_toml(&r.body).unwrap();
    assert_eq!(shown, ValidCenterConfig::from_toml(DEMO).unwrap());

    let r = h.call("GET", "/api/v1/nope", Some(&admin), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string());
    let r = h.call("PATCH", "/api/v1/config", Some(&admin), "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.json()["error"].is_string());
    let r = h.call("GET", "/api/v1/agents/77", Some(&admin), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call("POST", "/api/v1/nodes/bj-01-0/revoke", Some(&admin), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn agents_act_for_themselves_and_supervisors_over_whom_they_lead() {
    let h = Harness::new();
    let (ann, tom, dora) = (
        h.token(Role::Agent),
        h.token(Role::TeamLead),
        h.token(Role::DutyManager),
    );
    // Team lead 2 leads group 1 (agent 1), not group 2 (agent 4).
    let cases = [
        (&ann, 1, r#""Ready""#, StatusCode::OK),
        (&ann, 4, r#""Ready""#, StatusCode::FORBIDDEN),
        (&ann, 1, r#""Answer""#, StatusCode::CONFLICT),
        (&ann, 1, r#"{"Monitor":{"agent":4}}"#, StatusCode::FORBIDDEN),
        (&tom, 2, r#"{"Monitor":{"agent":1}}"#, StatusCode::OK),
        (&tom, 2, r#"{"Barge":{"agent":4}}"#, StatusCode::FORBIDDEN),
        (&tom, 1, r#""Ready""#, StatusCode::FORBIDDEN),
        (&dora, 3, r#"{"ForceRelease":{"agent":4}}"#, StatusCode::OK),
    ];
    for (token, agent, body, status) in cases {
        assert_eq!(
            h.command(token, agent, body).await,
            status,
            "{agent} {body}"
        );
    }
    assert_eq!(h.view(&ann, 2).await, StatusCode::FORBIDDEN);
    assert_eq!(h.view(&tom, 1).await, StatusCode::OK);
    assert_eq!(h.view(&tom, 4).await, StatusCode::FORBIDDEN);
    assert_eq!(h.view(&dora, 4).await, StatusCode::OK);
    let done: Vec<_> = h
        .desk
        .commands
        .lock()
        .unwrap()
        .iter()
        .map(|(a, _)| a.0)
        .collect();
    assert_eq!(done, vec![1, 2, 3]);
}

fn cdr(call: u64, agents: &[u32]) -> tandem_node::calls::Cdr {
    use tandem_node::calls::{Cdr, EndCause, Hangup};
    Cdr {
        call: tandem_node::routing::CallId(call),
        site: tandem_node::names::Site::new("bj-01").unwrap(),
        line: "fxo1".into(),
        outbound: false,
        number: Some("01055501".into()),
        started_us: call * 10,
        answered_us: Some(call * 10 + 1_000_000),
        ended_us: call * 10 + 3_000_000,
        hangup: Hangup::Caller,
        cause: EndCause::Completed,
        ivr_path: vec!["menu".into()],
        queue: Some(QueueId(1)),
        agents: agents.iter().copied().map(AgentId).collect(),
        recording: Some(format!("r,\"{call}\".ogg")),
        events: vec![],
    }
}

#[tokio::test]
async fn cdrs_export_as_json_and_csv_scoped_to_the_team() {
    use tandem_node::proto::{RecordKind, UploadRecord};
    let h = Harness::new();
    let node = h.enroll("bj-01-a");
    let upload = |seq: u64, kind, body: Vec<u8>| UploadRecord {
        seq,
        kind,
        created_at_us: seq,
        body,
    };
    let records = [
        upload(1, RecordKind::Cdr, cdr(2, &[4]).to_record()),
        upload(2, RecordKind::Cdr, cdr(1, &[1]).to_record()),
        upload(3, RecordKind::Cdr, vec![0xff]),
    ];
    h.coordinator
        .store()
        .ingest(&node.node_id, &records, 1)
        .unwrap();
    let admin = h.token(Role::Admin);
    let r = h.call("GET", "/api/v1/cdrs", Some(&admin), "").await;
    let calls: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call"].clone())
        .collect();
    assert_eq!(calls, vec![serde_json::json!("1"), serde_json::json!("2")]);
    let csv = h
        .call("GET", "/api/v1/cdrs?format=csv", Some(&admin), "")
        .await;
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<_> = csv.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[0].starts_with("call,site,line"));
    assert!(
        lines[1].starts_with("1,bj-01,fxo1,false,01055501,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(r#","r,""1"".ogg""#),
        "quoted: {}",
        lines[1]
    );
    let lead = h.token(Role::TeamLead);
    let r = h.call("GET", "/api/v1/cdrs", Some(&lead), "").await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "only agent 1's call");

    // The screen pop: the current caller's earlier calls, newest first.
    let ann = h.token(Role::Agent);
    let r = h
        .call("GET", "/api/v1/history?number=01055501", Some(&ann), "")
        .await;
    let calls: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call"].clone())
        .collect();
    assert_eq!(
        calls,
        vec![serde_json::json!("2"), serde_json::json!("1")],
        "{}",
        r.body
    );
    assert_eq!(r.json()[0]["disposition"], "resolved-2");
    let r = h
        .call("GET", "/api/v1/history?number=01055504", Some(&ann), "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not ann's caller");
    let r = h.call("GET", "/api/v1/summary", Some(&lead), "").await;
    assert_eq!(r.json()["queues"][0]["waiting"], 2, "from the call desk");
    // The coordinator's summary counts the enrolled gateway, offline.
    let sites = h.coordinator.summary().sites;
    let bj = sites.iter().find(|s| s.site.as_str() == "bj-01").unwrap();
    assert_eq!((bj.nodes, bj.nodes_online, bj.calls_up), (1, 0, 0));
    // Ann's day: call 1 (answered 2 s) is hers; call 2 is agent 4's.
    let r = h
        .call("GET", "/api/v1/agents/1/stats?since=0", Some(&ann), "")
        .await;
    assert_eq!(r.json()["calls"], 1, "{}", r.body);
    assert_eq!(r.json()["talk_secs"], 2);
    assert_eq!(r.json()["dispositions"]["resolved-1"], 1);
    let r = h
        .call("GET", "/api/v1/agents/1/stats", Some(&ann), "")
        .await;
    assert_eq!(
        r.json()["calls"],
        0,
        "nothing today (the test CDRs are from 1970)"
    );
    let r = h
        .call("GET", "/api/v1/agents/4/stats", Some(&ann), "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .call("GET", "/api/v1/agents/1/stats?since=x", Some(&ann), "")
        .await;
    assert_eq!(r.field(), "since");
    let r = h.call("GET", "/api/v1/history", Some(&admin), "").await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "number".into())
    );
}

/// Ids above 2^53 reach every JSON surface as exact decimal strings: the agent
/// view, CDRs and the event stream.
#[tokio::test]
async fn call_ids_above_2_pow_53_travel_as_exact_strings() {
    use tandem_node::proto::{RecordKind, UploadRecord};
    let h = Harness::new();
    let wide = format!(r#""call":"{WIDE_CALL}""#);
    let ann = h.token(Role::Agent);
    let r = h.call("GET", "/api/v1/agents/1", Some(&ann), "").await;
    assert!(r.body.contains(&wide), "{}", r.body);

    let mut manager = h.open_events(h.token(Role::DutyManager)).await;
    h.coordinator.events().publish(Event::Call {
        call: CallId(WIDE_CALL),
        queue: Some(QueueId(1)),
        agent: Some(AgentId(1)),
        what: "answered".into(),
    });
    let chunk = next_chunk(&mut manager).await;
    assert!(chunk.contains(&wide), "{chunk}");

    let node = h.enroll("bj-01-a");
    let mut record = cdr(1, &[1]);
    record.call = CallId(WIDE_CALL);
    h.coordinator
        .store()
        .ingest(
            &node.node_id,
            &[UploadRecord {
                seq: 1,
                kind: RecordKind::Cdr,
                created_at_us: 1,
                body: record.to_record(),
            }],
            1,
        )
        .unwrap();
    let admin = h.token(Role::Admin);
    let r = h.call("GET", "/api/v1/cdrs", Some(&admin), "").await;
    assert!(r.body.contains(&wide), "{}", r.body);
    let r = h
        .call("GET", "/api/v1/history?number=01055501", Some(&ann), "")
        .await;
    assert!(r.body.contains(&wide), "{}", r.body);
}

async fn next_chunk(s: &mut axum::body::BodyDataStream) -> String {
    use futures_util::StreamExt;
    let chunk = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    String::from_utf8(chunk.to_vec()).unwrap()
}

#[tokio::test]
async fn the_event_stream_is_filtered_by_role() {
    let h = Harness::new();
    let open = |token: String| h.open_events(token);
    let mut agent = open(h.token(Role::Agent)).await;
    let mut manager = open(h.token(Role::DutyManager)).await;
    let mut lead = open(h.token(Role::TeamLead)).await;
    let events = h.coordinator.events();
    let about = |agent| Event::Agent {
        agent: AgentId(agent),
        view: AgentView::default(),
    };
    events.publish(Event::NodeOnline {
        node: tandem_node::names::NodeId::new("bj-01-a").unwrap(),
        site: tandem_node::names::Site::new("bj-01").unwrap(),
    });
    events.publish(about(4));
    events.publish(about(1));
    events.publish(Event::Queue {
        queue: QueueId(1),
        waiting: 3,
        longest_wait_ms: 10,
    });
    let first = next_chunk(&mut agent).await;
    assert!(first.starts_with("event: agent\n"), "{first}");
    assert!(first.contains(r#""agent":1"#), "only their own: {first}");
    let mut seen = String::new();
    for _ in 0..3 {
        seen += &next_chunk(&mut manager).await;
    }
    assert!(seen.contains("event: node_online"), "{seen}");
    assert!(
        seen.contains(r#""agent":4"#) && seen.contains(r#""agent":1"#),
        "{seen}"
    );
    // The team lead: their group's agent and the queue, not nodes or agent 4.
    let first = next_chunk(&mut lead).await;
    assert!(first.contains(r#""agent":1"#), "{first}");
    let second = next_chunk(&mut lead).await;
    assert!(second.starts_with("event: queue\n"), "{second}");
}

/// Waits for `s` to end (within 5 s).
async fn stream_end(s: &mut axum::body::BodyDataStream) {
    use futures_util::StreamExt;
    let next = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("the stream ends");
    assert!(next.is_none(), "the stream ended, not {next:?}");
}

#[tokio::test]
async fn an_open_event_stream_ends_at_logout_and_at_session_expiry() {
    let h = Harness::new();
    let open = |token: String| h.open_events(token);
    let (ann, tom) = (h.token(Role::Agent), h.token(Role::TeamLead));
    let mut logged_out = open(ann.clone()).await;
    let mut expiring = open(tom.clone()).await;

    let r = h.call("POST", "/api/v1/auth/logout", Some(&ann), "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    stream_end(&mut logged_out).await;

    // The other session's stream still delivers…
    h.coordinator.events().publish(Event::Agent {
        agent: AgentId(1),
        view: AgentView::default(),
    });
    let chunk = next_chunk(&mut expiring).await;
    assert!(chunk.contains(r#""agent":1"#), "{chunk}");
    // …until its session expires: the open stream alone does not keep it alive.
    h.advance(12 * 3600 + 1);
    stream_end(&mut expiring).await;
    let r = h.call("GET", "/api/v1/auth/me", Some(&tom), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_pages_and_openapi_are_served() {
    let h = Harness::new();
    let node = tandem_node::names::NodeId::new("bj-01-3fa2c1").unwrap();
    let site = tandem_node::names::Site::new("bj-01").unwrap();
    let report = tandem_node::media::MediaTotals {
        received: 950,
        expected: 1000,
        lost: 40,
        late: 10,
        concealed: 38,
        fec_recovered: 2,
        legs_ended: 3,
        ..Default::default()
    };
    h.coordinator
        .media_reports()
        .record(&node, &site, 1, report)
        .unwrap();
    use crate::authority::{AuthorityKind, Refusal, SessionStrikes};
    SessionStrikes::new(node.clone()).refuse(
        h.coordinator.authority_refusals(),
        &Refusal::new(AuthorityKind::Call, "call 1 is anchored at sh-01"),
    );
    let m = h.call("GET", "/metrics", None, "").await;
    assert_eq!(m.status, StatusCode::OK);
    for line in [
        "tandem_nodes_online 0",
        "tandem_calls_active 0",
        "tandem_queue_depth{queue=\"1\"} 2",
        "tandem_relay_datagrams_forwarded_total 0",
        "tandem_relay_bytes_forwarded_total 0",
        "tandem_relay_datagrams_refused_total{reason=\"malformed\"} 0",
        "# TYPE tandem_uptime_seconds gauge",
        "# TYPE tandem_authority_refusals_total counter",
        "tandem_authority_refusals_total{node=\"bj-01-3fa2c1\",kind=\"call\"} 1",
        "# TYPE tandem_routing_decision_seconds histogram",
        "tandem_routing_decision_seconds_bucket{le=\"0.00001\"} 1",
        "tandem_routing_decision_seconds_bucket{le=\"0.00005\"} 3",
        "tandem_routing_decision_seconds_bucket{le=\"+Inf\"} 4",
        "tandem_routing_decision_seconds_sum 0.00012",
        "tandem_routing_decision_seconds_count 4",
        "# TYPE tandem_media_frames_total counter",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"received\"} 950",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"lost\"} 40",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"late\"} 10",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"duplicate\"} 0",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"concealed\"} 38",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"fec_recovered\"} 2",
        "tandem_media_frames_total{node=\"bj-01-3fa2c1\",site=\"bj-01\",outcome=\"dropped\"} 0",
        "# TYPE tandem_media_packets_expected_total counter",
        "tandem_media_packets_expected_total{node=\"bj-01-3fa2c1\",site=\"bj-01\"} 1000",
        "tandem_media_legs_ended_total{node=\"bj-01-3fa2c1\",site=\"bj-01\"} 3",
    ] {
        assert!(m.body.lines().any(|l| l == line), "{line} in\n{}", m.body);
    }
    h.advance(5);
    let m = h.call("GET", "/metrics", None, "").await;
    assert!(m.body.contains("tandem_uptime_seconds 5"), "{}", m.body);

    let doc = h.call("GET", "/api/v1/openapi.json", None, "").await;
    assert_eq!(doc.json()["openapi"], "3.1.0");
    for page in ["/login", "/desk", "/wallboard", "/admin"] {
        let r = h.call("GET", page, None, "").await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.body.contains("<html"), "{page}");
        assert!(r.body.contains("/static/app.js"), "{page}");
    }
    for asset in ["/static/app.js", "/static/i18n.js", "/static/style.css"] {
        let r = h.call("GET", asset, None, "").await;
        assert_eq!(r.status, StatusCode::OK, "{asset}");
        assert!(!r.body.is_empty(), "{asset}");
    }
    assert_eq!(
        h.call("GET", "/static/nope.js", None, "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.call("GET", "/", None, "").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn admins_manage_accounts_and_changes_end_sessions() {
    let h = Harness::new();
    let admin = h.token(Role::Admin);
    let body = format!(r#"{{"username":"lee","password":"{PASSWORD}","role":"agent","agent":7}}"#);
    let r = h
        .call("POST", "/api/v1/accounts", Some(&admin), &body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["agent"], 7);
    let lee = h.login([2, 2, 2, 2], "lee", PASSWORD).await;
    let lee = lee.json()["token"].as_str().unwrap().to_owned();
    let r = h.call("GET", "/api/v1/accounts", Some(&admin), "").await;
    assert_eq!(r.json().as_array().unwrap().len(), PEOPLE.len() + 1);
    assert!(!r.body.contains("argon2"));

    let promote = r#"{"username":"lee","role":"team_lead","agent":7,"groups":[2]}"#;
    let r = h
        .call("PUT", "/api/v1/accounts/lee", Some(&admin), promote)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["role"], "team_lead");
    let r = h.call("GET", "/api/v1/auth/me", Some(&lee), "").await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a changed role logs out"
    );
    assert_eq!(
        h.login([2, 2, 2, 2], "lee", PASSWORD).await.status,
        StatusCode::OK,
        "password kept"
    );

    let r = h
        .call(
            "PUT",
            "/api/v1/accounts/ghost",
            Some(&admin),
            r#"{"username":"ghost","role":"admin"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call("DELETE", "/api/v1/accounts/lee", Some(&admin), "")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h
        .call("DELETE", "/api/v1/accounts/lee", Some(&admin), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call("DELETE", "/api/v1/accounts/ada", Some(&admin), "")
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // The command-line path.
    let spec = AccountSpec {
        username: "cli".into(),
        password: Some(PASSWORD.into()),
        role: Role::DutyManager,
        agent: None,
        groups: vec![],
    };
    assert!(
        !format!("{spec:?}").contains(PASSWORD),
        "passwords are not logged"
    );
    match h
        .coordinator
        .admin(AdminRequest::AddAccount { account: spec })
    {
        AdminResponse::Account { account } => assert_eq!(account.role, Role::DutyManager),
        other => panic!("{other:?}"),
    }
    match h.coordinator.admin(AdminRequest::ListAccounts) {
        AdminResponse::Accounts { accounts } => {
            assert!(accounts.iter().any(|a| a.username == "cli"))
        }
        other => panic!("{other:?}"),
    }
    let token = h.token(Role::Agent);
    let password = crate::accounts::Password("a new password".into());
    let request = AdminRequest::SetPassword {
        username: "ann".into(),
        password: password.clone(),
    };
    assert!(!format!("{request:?}").contains("a new password"));
    assert!(matches!(h.coordinator.admin(request), AdminResponse::Done));
    let r = h.call("GET", "/api/v1/auth/me", Some(&token), "").await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a new password logs out"
    );
    assert_eq!(
        h.login([3, 3, 3, 3], "ann", &password.0).await.status,
        StatusCode::OK
    );
    let remove = |username: &str| AdminRequest::RemoveAccount {
        username: username.into(),
    };
    assert!(matches!(
        h.coordinator.admin(remove("cli")),
        AdminResponse::Done
    ));
    assert!(matches!(
        h.coordinator.admin(remove("cli")),
        AdminResponse::Error { .. }
    ));
}

/// One request over a real socket, HTTP/1.1 with `Connection: close`.
async fn raw_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    exchange(stream, method, path, body).await
}

async fn exchange(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    method: &str,
    path: &str,
    body: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    // A TLS peer may close without close_notify once the response is complete.
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn https_with_a_certificate_from_the_coordinators_own_ca() {
    use rustls::pki_types::{CertificateDer, ServerName};
    let dir = tempfile::tempdir().unwrap();
    let coordinator = Coordinator::open(dir.path()).unwrap();
    let running = coordinator
        .serve(crate::server::ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            http: Some("127.0.0.1:0".parse().unwrap()),
            http_tls: Some(super::tls::HttpTls::OwnCa {
                names: vec!["tandem.example.com".into(), "127.0.0.1".into()],
            }),
        })
        .await
        .unwrap();
    let addr = running.http_addr().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(coordinator.ca().cert_der().to_vec()))
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    for name in ["tandem.example.com", "127.0.0.1"] {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let server = ServerName::try_from(name.to_owned()).unwrap();
        let tls = connector.connect(server, tcp).await.unwrap();
        let health = exchange(tls, "GET", "/healthz", "").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{name}: {health}");
    }
    // A name the certificate does not carry is refused by the client.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let wrong = ServerName::try_from("other.example.com".to_owned()).unwrap();
    assert!(connector.connect(wrong, tcp).await.is_err());
    // Plain HTTP to the TLS port gets nothing useful, and the server keeps serving.
    let plain = raw_http(addr, "GET", "/healthz", "").await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server = ServerName::try_from("127.0.0.1".to_owned()).unwrap();
    let tls = connector.connect(server, tcp).await.unwrap();
    let login = exchange(
        tls,
        "POST",
        "/api/v1/auth/login",
        r#"{"username":"nobody","password":"nothing"}"#,
    )
    .await;
    assert!(login.starts_with("HTTP/1.1 401"), "{login}");
    running.shutdown().await;
}

#[tokio::test]
async fn the_served_api_knows_the_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let coordinator = Coordinator::open(dir.path()).unwrap();
    let running = coordinator
        .serve(crate::server::ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            http: Some("127.0.0.1:0".parse().unwrap()),
            http_tls: None,
        })
        .await
        .unwrap();
    let addr = running.http_addr().unwrap();
    let health = raw_http(addr, "GET", "/healthz", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let login = raw_http(
        addr,
        "POST",
        "/api/v1/auth/login",
        r#"{"username":"nobody","password":"nothing"}"#,
    )
    .await;
    assert!(login.starts_with("HTTP/1.1 401"), "{login}");
    let me = raw_http(addr, "GET", "/api/v1/auth/me", "").await;
    assert!(me.starts_with("HTTP/1.1 401"), "{me}");
    running.shutdown().await;
}

#[tokio::test]
async fn odd_bodies_never_cause_a_server_error() {
    let h = Harness::new();
    let nested = "[".repeat(5000);
    let bodies = [
        "",
        "null",
        "[]",
        "{}",
        "1",
        "-1",
        "\"x\"",
        "true",
        "{\"username\":null}",
        "{\"site\":\"\",\"ttl_secs\":-5}",
        "{\"NotReady\":null}",
        "{\"Transfer\":{\"to\":{\"Agent\":-1},\"consult\":1}}",
        "{\"username\":\"a\",\"role\":\"admin\",\"password\":\"\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\"}",
        "\u{feff}{}",
        &nested,
        "[[seats]]\nagent = \"x\"",
        "\u{ff}\u{fe}",
    ];
    for (method, template, _) in role_table() {
        if template == "/api/v1/events" {
            continue;
        }
        let path = template.replace("{id}", "1").replace("{username}", "ann");
        for body in &bodies {
            // A fresh session each time: one of the endpoints is logout.
            let admin = h.token(Role::Admin);
            let r = h.call(method, &path, Some(&admin), body).await;
            assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert!(
                !r.status.is_server_error(),
                "{method} {path} {body:?}: {} {}",
                r.status,
                r.body
            );
        }
        let binary = axum::http::Request::builder()
            .method(method)
            .uri(&path)
            .header("authorization", format!("Bearer {}", h.token(Role::Admin)))
            .body(Body::from(vec![0xff, 0xfe, 0x00]))
            .unwrap();
        let r = h.send_from([127, 0, 0, 1], binary).await;
        assert!(
            !r.status.is_server_error(),
            "{method} {path} binary: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn reports_name_the_wrong_parameter_and_cover_the_range() {
    let h = Harness::new();
    let admin = h.token(Role::Admin);
    for (query, field) in [
        ("to=2026-11-30", "from"),
        ("from=2026-11-01", "to"),
        ("from=2026-13-01&to=2026-11-30", "from"),
        ("from=2026-11-01&to=2026-11-30&period=year", "period"),
        ("from=2026-11-30&to=2026-11-01", "to"),
        ("from=2000-01-01&to=2026-11-30&period=day", "to"),
        ("from=2000-01-01&to=2026-11-30&period=month", "to"),
    ] {
        let r = h
            .call("GET", &format!("/api/v1/reports?{query}"), Some(&admin), "")
            .await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{query}");
    }
    let r = h
        .call(
            "GET",
            "/api/v1/reports?from=2026-11-01&to=2026-11-30&period=week",
            Some(&admin),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let weeks = r.json();
    let labels: Vec<&str> = weeks
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["label"].as_str().unwrap())
        .collect();
    // 2026-11-01 is a Sunday (ISO week 44) and 2026-11-30 a Monday (week 49).
    assert_eq!(
        labels,
        [
            "2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"
        ]
    );
    assert!(
        weeks[0]["queues"].is_array()
            && weeks[0]["agents"].is_array()
            && weeks[0]["sites"].is_array()
    );
}

#[tokio::test]
async fn cdrs_export_pages_through_local_days_by_cursor() {
    use tandem_node::ivr::CivilDate;
    use tandem_node::proto::{RecordKind, UploadRecord};
    let h = Harness::new();
    let node = h.enroll("bj-01-a");
    // The demo center is at UTC+8: a local day starts at 16:00 UTC the day before.
    let local_us = |date: &str, minutes: i64| {
        let day = CivilDate::try_from(date.to_owned()).unwrap().epoch_day();
        ((day * 1440 - 480 + minutes) * 60_000_000) as u64
    };
    let starts = [
        (1, local_us("2026-11-01", 12 * 60)),
        (2, local_us("2026-11-01", 23 * 60 + 30)),
        (3, local_us("2026-11-02", 30)),
        (4, local_us("2026-11-02", 9 * 60)),
        (5, local_us("2026-11-02", 10 * 60)),
        (6, local_us("2026-11-02", 11 * 60)),
        (7, local_us("2026-11-02", 23 * 60 + 59)),
        (8, local_us("2026-11-03", 0)),
        (9, local_us("2026-11-03", 60)),
    ];
    let records: Vec<_> = starts
        .iter()
        .map(|&(call, started_us)| {
            let mut c = cdr(call, &[1]);
            c.started_us = started_us;
            c.ended_us = started_us + 60_000_000;
            UploadRecord {
                seq: call,
                kind: RecordKind::Cdr,
                created_at_us: started_us,
                body: c.to_record(),
            }
        })
        .collect();
    h.coordinator
        .store()
        .ingest(&node.node_id, &records, 1)
        .unwrap();
    let admin = h.token(Role::Admin);
    let calls = |r: &Reply| -> Vec<u64> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["call"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let next = |r: &Reply| {
        r.headers
            .get("x-next-cursor")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // One local day, two per page: the cursor visits each call once.
    let (mut got, mut after, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let cursor = after
            .as_ref()
            .map_or(String::new(), |c| format!("&after={c}"));
        let path = format!("/api/v1/cdrs?from=2026-11-02&to=2026-11-02&limit=2{cursor}");
        let r = h.call("GET", &path, Some(&admin), "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        got.extend(calls(&r));
        pages += 1;
        after = next(&r);
        if after.is_none() {
            break;
        }
    }
    assert_eq!((got, pages), (vec![3, 4, 5, 6, 7], 3));

    // Open ends, the default limit, and CSV pages with their header row.
    let r = h
        .call("GET", "/api/v1/cdrs?from=2026-11-03", Some(&admin), "")
        .await;
    assert_eq!((calls(&r), next(&r)), (vec![8, 9], None));
    let r = h
        .call("GET", "/api/v1/cdrs?to=2026-11-01", Some(&admin), "")
        .await;
    assert_eq!(calls(&r), vec![1, 2]);
    let r = h
        .call("GET", "/api/v1/cdrs?format=csv&limit=3", Some(&admin), "")
        .await;
    let lines: Vec<_> = r.body.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.body);
    assert!(lines[0].starts_with("call,site,line"));
    assert!(lines[3].starts_with("3,"), "{}", lines[3]);
    let cursor = next(&r).unwrap();
    let r = h
        .call(
            "GET",
            &format!("/api/v1/cdrs?limit=10000&after={cursor}"),
            Some(&admin),
            "",
        )
        .await;
    assert_eq!(calls(&r), vec![4, 5, 6, 7, 8, 9]);

    // Each wrong parameter is named.
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-11-31", "to"),
        ("from=2026-11-03&to=2026-11-02", "to"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("after=xyz", "after"),
        ("after=0100", "after"),
    ] {
        let r = h
            .call("GET", &format!("/api/v1/cdrs?{query}"), Some(&admin), "")
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field.to_owned()),
            "{query}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_report_reads_its_days_calls_and_those_still_on_a_line_from_before() {
    use tandem_node::inventory::{LineInfo, LineKind};
    use tandem_node::ivr::CivilDate;
    use tandem_node::proto::{RecordKind, UploadRecord};
    let h = Harness::new();
    let node = h.enroll("bj-01-a");
    h.coordinator
        .store()
        .update_nodes([&node.node_id], |n| {
            n.inventory.lines = vec![LineInfo {
                id: "fxo1".into(),
                kind: LineKind::Fxo,
            }];
        })
        .unwrap();
    // UTC+8, as in the demo center.
    let local_us = |date: &str, hours: i64| {
        let day = CivilDate::try_from(date.to_owned()).unwrap().epoch_day();
        ((day * 24 - 8 + hours) * 3_600_000_000) as u64
    };
    let calls = [
        // 18 h from noon the day before: 6 h of it on the reported day.
        (1, local_us("2026-11-01", 12), local_us("2026-11-02", 6)),
        (2, local_us("2026-11-02", 10), local_us("2026-11-02", 11)),
        (3, local_us("2026-11-03", 1), local_us("2026-11-03", 2)),
    ];
    let records: Vec<_> = calls
        .iter()
        .map(|&(call, started_us, ended_us)| {
            let mut c = cdr(call, &[1]);
            (c.started_us, c.ended_us) = (started_us, ended_us);
            c.answered_us = None;
            UploadRecord {
                seq: call,
                kind: RecordKind::Cdr,
                created_at_us: ended_us,
                body: c.to_record(),
            }
        })
        .collect();
    h.coordinator
        .store()
        .ingest(&node.node_id, &records, 1)
        .unwrap();
    let admin = h.token(Role::Admin);
    let r = h
        .call(
            "GET",
            "/api/v1/reports?from=2026-11-02&to=2026-11-02",
            Some(&admin),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let site = &r.json()[0]["sites"][0];
    assert_eq!(
        (&site["site"], &site["calls"]),
        (&"bj-01".into(), &1.into())
    );
    let occupancy = site["trunk_occupancy_percent"].as_f64().unwrap();
    assert!((occupancy - 7.0 * 100.0 / 24.0).abs() < 1e-9, "{occupancy}");
}

#[tokio::test]
async fn values_over_their_limits_and_unbounded_reads_get_422_naming_the_field() {
    use tandem_node::limits::{MAX_CODE, MAX_CONFIG_LIST, MAX_NOTE, MAX_NUMBER};
    let h = Harness::new();
    h.desk.load(DEMO);
    let admin = h.token(Role::Admin);
    let command = |c: AgentCommand| serde_json::to_string(&c).unwrap();
    let bj = tandem_node::names::Site::new("bj-01").unwrap();
    let cases = [
        (
            command(AgentCommand::Dial {
                site: bj.clone(),
                number: "9".repeat(300_000),
            }),
            "Dial.number",
        ),
        (
            command(AgentCommand::Dial {
                site: bj.clone(),
                number: "9".repeat(MAX_NUMBER + 1),
            }),
            "Dial.number",
        ),
        (
            command(AgentCommand::NotReady {
                reason: "x".repeat(MAX_CODE + 1),
            }),
            "NotReady.reason",
        ),
        (
            command(AgentCommand::WrapUp {
                disposition: "ok".into(),
                note: "x".repeat(MAX_NOTE + 1),
            }),
            "WrapUp.note",
        ),
    ];
    for (body, field) in &cases {
        let r = h
            .call("POST", "/api/v1/agents/1/commands", Some(&admin), body)
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, (*field).to_owned()),
            "{}",
            r.body
        );
    }
    assert!(h.desk.commands.lock().unwrap().is_empty());
    // At the limit, the command reaches call control.
    let longest = command(AgentCommand::Dial {
        site: bj,
        number: "9".repeat(MAX_NUMBER),
    });
    let r = h
        .call("POST", "/api/v1/agents/1/commands", Some(&admin), &longest)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A blacklist one entry over the limit, through the list form's API.
    let list = |n: usize| {
        let rules: Vec<_> = (0..n)
            .map(|i| serde_json::json!({ "pattern": { "Exact": format!("+{}", 100_000 + i) }, "action": "Reject" }))
            .collect();
        serde_json::to_string(&rules).unwrap()
    };
    let r = h
        .call(
            "PUT",
            "/api/v1/config/blacklist",
            Some(&admin),
            &list(MAX_CONFIG_LIST + 1),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "routing.blacklist".to_owned()
        ),
        "{}",
        r.body
    );
    let r = h
        .call(
            "PUT",
            "/api/v1/config/blacklist",
            Some(&admin),
            &list(MAX_CONFIG_LIST),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Reads bounded in time range and rows (a new session: the first one
    // idled out over those 40 days).
    h.advance(40 * 86_400);
    let admin = h.token(Role::Admin);
    for (query, field) in [
        ("/api/v1/agents/1/stats?since=0", "since"),
        ("/api/v1/history?number=5551&limit=101", "limit"),
        ("/api/v1/history?number=5551&limit=0", "limit"),
        (
            "/api/v1/history?number=123456789012345678901234567890123",
            "number",
        ),
        ("/api/v1/reports?from=2025-01-01&to=2026-01-03", "to"),
    ] {
        let r = h.call("GET", query, Some(&admin), "").await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field.to_owned()),
            "{query}: {}",
            r.body
        );
    }
    let since = 1_000_000 + 40 * 86_400 - 32 * 86_400;
    let r = h
        .call(
            "GET",
            &format!("/api/v1/agents/1/stats?since={since}"),
            Some(&admin),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["truncated"], false);
    let r = h
        .call(
            "GET",
            "/api/v1/history?number=5551&limit=100",
            Some(&admin),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
