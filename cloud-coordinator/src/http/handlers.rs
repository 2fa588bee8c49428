//! The REST handlers: nodes, agents, configuration, wallboard, CDRs, accounts,
//! metrics.

use super::authz::{Action, Granted, Scope};
use super::{Api, ApiError, JsonBody, OPENAPI};
use crate::accounts::{AccountError, AccountSpec, AccountView};
use crate::media_reports::NodeMediaReport;
use crate::reports::{epoch_us, local_midnight_ms};
use crate::store::{CdrKey, StoreError};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;
use tandem_node::calls::{AgentCommand, Cdr, CenterConfigError, ValidCenterConfig};
use tandem_node::ivr::CivilDate;
use tandem_node::media::MediaTotals;
use tandem_node::names::{NodeId, Site};
use tandem_node::routing::AgentId;

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn nodes(State(api): State<Api>) -> Result<Response, ApiError> {
    let nodes = api.blocking(|c| Ok(c.node_views()?)).await?;
    Ok(Json(nodes).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    site: Site,
    #[serde(default = "default_ttl")]
    ttl_secs: u64,
}

fn default_ttl() -> u64 {
    24 * 3600
}

const MAX_TOKEN_TTL: u64 = 30 * 24 * 3600;

pub async fn create_token(
    State(api): State<Api>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    if !(1..=MAX_TOKEN_TTL).contains(&body.ttl_secs) {
        return Err(ApiError::field(
            UNPROCESSABLE,
            "ttl_secs",
            format!("must be between 1 and {MAX_TOKEN_TTL} seconds"),
        ));
    }
    let token = api
        .blocking(move |c| Ok(c.create_token(body.site, body.ttl_secs)?))
        .await?;
    let body = serde_json::json!({
        "token": token.encode(),
        "site": token.site,
        "expires_at": token.expires_at,
        "ca_fingerprint": token.ca_fingerprint.to_string(),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn revoke_node(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = NodeId::new(id).map_err(|e| ApiError::field(UNPROCESSABLE, "id", e.to_string()))?;
    let result = api
        .blocking(move |c| match c.revoke(&id) {
            Ok((_, was_online)) => Ok(Ok((id, was_online))),
            Err(StoreError::UnknownNode(id)) => Ok(Err(id)),
            Err(e) => Err(e.into()),
        })
        .await?;
    match result {
        Ok((node_id, was_online)) => Ok(Json(
            serde_json::json!({ "node_id": node_id, "was_online": was_online }),
        )
        .into_response()),
        Err(id) => Err(ApiError::not_found(format!("no node {id}"))),
    }
}

fn agent_id(raw: &str) -> Result<AgentId, ApiError> {
    raw.parse()
        .map(AgentId)
        .map_err(|_| ApiError::field(UNPROCESSABLE, "id", format!("{raw:?} is not an agent id")))
}

pub async fn agent_view(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = agent_id(&id)?;
    granted.require(&api, id, Action::ViewAgent)?;
    let view = api
        .desk()
        .agent_view(id)
        .ok_or_else(|| ApiError::not_found(format!("no agent {id}")))?;
    Ok(Json(view).into_response())
}

/// How far back an agent's figures may reach: a month and a day, so "this month"
/// always fits. Older `since` values get 422.
pub const MAX_STATS_DAYS: u64 = 32;
/// Most calls an agent's figures are computed from; beyond it the answer says
/// `truncated` (a month of one agent's calls stays far below it).
pub const MAX_STATS_CALLS: usize = 10_000;

/// An agent's own figures since `since` (Unix seconds; default: midnight UTC
/// today; at most [`MAX_STATS_DAYS`] ago): answered, AHT and occupancy from the routing events by the KPI
/// definitions reports and the wallboard use; calls, talk time and
/// dispositions from the stored CDRs (calls the agent took part in, however).
pub async fn agent_stats(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = agent_id(&id)?;
    granted.require(&api, id, Action::ViewAgent)?;
    let now = api.now();
    let since = match query.get("since") {
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| ApiError::field(UNPROCESSABLE, "since", "must be Unix seconds"))?,
        None => now / 86_400 * 86_400,
    };
    if since < now.saturating_sub(MAX_STATS_DAYS * 86_400) {
        return Err(ApiError::field(
            UNPROCESSABLE,
            "since",
            format!("must be within the last {MAX_STATS_DAYS} days (reports cover longer ranges)"),
        ));
    }
    let since_us = since.saturating_mul(1_000_000);
    let now_ms = api.now().saturating_mul(1000);
    let kpis = api
        .blocking(
            move |c| match c.agent_kpis(id, since.saturating_mul(1000), now_ms) {
                Ok(k) => Ok(k),
                Err(crate::reports::ReportFailure::Store(e)) => Err(e.into()),
                // Nothing configured, nothing routed: no figures yet.
                Err(_) => Ok(Default::default()),
            },
        )
        .await?;
    let (cdrs, truncated) = api
        .blocking(move |c| {
            let page = c
                .store()
                .cdr_page(since_us..u64::MAX, None, MAX_STATS_CALLS, |cdr| {
                    cdr.agents.contains(&id)
                })?;
            Ok((page.cdrs, page.next.is_some()))
        })
        .await?;
    let talk_us: u64 = cdrs
        .iter()
        .filter_map(|c| c.answered_us.map(|a| c.ended_us.saturating_sub(a)))
        .sum();
    let calls = cdrs.len() as u64;
    let ids: Vec<_> = cdrs.iter().map(|c| c.call).collect();
    let mut dispositions: std::collections::BTreeMap<String, u64> = Default::default();
    for code in api.desk().dispositions(&ids).into_values() {
        *dispositions.entry(code).or_default() += 1;
    }
    Ok(Json(serde_json::json!({
        "agent": id,
        "since": since,
        "calls": calls,
        "talk_secs": talk_us / 1_000_000,
        "average_talk_secs": (talk_us / 1_000_000).checked_div(calls).unwrap_or(0),
        "dispositions": dispositions,
        "truncated": truncated,
        "answered": kpis.answered,
        "aht_ms": kpis.aht_ms(),
        "occupancy_percent": kpis.occupancy().map(|x| x * 100.0),
    }))
    .into_response())
}

/// The agent a supervision command acts on.
fn supervised(command: &AgentCommand) -> Option<AgentId> {
    match command {
        AgentCommand::Monitor { agent }
        | AgentCommand::Whisper { agent }
        | AgentCommand::Barge { agent }
        | AgentCommand::ForceRelease { agent } => Some(*agent),
        _ => None,
    }
}

/// Field checks call control would otherwise have to repeat, and the length
/// limits of [`tandem_node::limits`].
fn check_command(command: &AgentCommand) -> Result<(), ApiError> {
    tandem_node::limits::check_agent_command(command)
        .map_err(|e| ApiError::field(UNPROCESSABLE, e.field, e.problem))?;
    let empty = |field: &str| {
        Err(ApiError::field(
            UNPROCESSABLE,
            field.to_owned(),
            "must not be empty",
        ))
    };
    match command {
        AgentCommand::NotReady { reason } if reason.trim().is_empty() => empty("NotReady.reason"),
        AgentCommand::WrapUp { disposition, .. } if disposition.trim().is_empty() => {
            empty("WrapUp.disposition")
        }
        AgentCommand::Dial { number, .. } if number.trim().is_empty() => empty("Dial.number"),
        AgentCommand::Dial { number, .. }
            if !number
                .chars()
                .all(|c| c.is_ascii_digit() || "+*#".contains(c)) =>
        {
            Err(ApiError::field(
                UNPROCESSABLE,
                "Dial.number",
                "only digits, '+', '*' and '#'",
            ))
        }
        _ => Ok(()),
    }
}

pub async fn agent_command(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path(id): Path<String>,
    JsonBody(command): JsonBody<AgentCommand>,
) -> Result<Response, ApiError> {
    let id = agent_id(&id)?;
    granted.require(&api, id, Action::CommandAgent)?;
    if let Some(target) = supervised(&command) {
        granted.require(&api, target, Action::Supervise)?;
    }
    check_command(&command)?;
    tracing::info!(user = %granted.account.username, agent = %id, ?command, "agent command");
    let view = api.desk().agent_command(id, command)?;
    Ok(Json(view).into_response())
}

pub async fn config_get(State(api): State<Api>) -> Result<Response, ApiError> {
    let (_, config) = super::config_sections::loaded(&api)?;
    let text = toml::to_string_pretty(&config).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/toml")], text).into_response())
}

/// A configuration error as a 422 naming its field.
pub fn config_error(e: &CenterConfigError) -> ApiError {
    ApiError::field(UNPROCESSABLE, e.field(), e.to_string())
}

pub async fn config_put(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::field(StatusCode::BAD_REQUEST, "body", "not UTF-8"))?
        .to_owned();
    let valid = ValidCenterConfig::from_toml(&text).map_err(|e| config_error(&e))?;
    let version = api
        .desk_blocking(move |desk| desk.update_config(None, Box::new(|_| Ok(valid))))
        .await?;
    tracing::info!(user = %granted.account.username, version, "center configuration replaced");
    Ok(Json(serde_json::json!({ "version": version })).into_response())
}

/// The call desk's wallboard figures (per site they include how many gateways
/// are enrolled and online).
pub async fn summary(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = api.desk_blocking(|desk| Ok(desk.summary_json())).await?;
    Ok(Json(summary))
}

/// The optional date parameter `name`: a local day, YYYY-MM-DD, as reports and
/// the CDR export take it.
fn date_param(
    query: &HashMap<String, String>,
    name: &'static str,
) -> Result<Option<CivilDate>, ApiError> {
    query
        .get(name)
        .map(|text| {
            CivilDate::try_from(text.clone())
                .map_err(|_| ApiError::field(UNPROCESSABLE, name, "must be a date YYYY-MM-DD"))
        })
        .transpose()
}

/// Longest range of one report request: a year and a day (a leap year and its
/// first day next year); longer ranges get 422 naming `to`.
pub const MAX_REPORT_DAYS: i64 = 367;

/// Reports per day, week or month: `from` and `to` are local dates
/// (YYYY-MM-DD, both included, at most [`MAX_REPORT_DAYS`] days), `period` is
/// day (default), week or month.
pub async fn reports(
    State(api): State<Api>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    use crate::reports::{Period, ReportFailure, ReportRange};
    let date = |name: &'static str| -> Result<CivilDate, ApiError> {
        date_param(&query, name)?
            .ok_or_else(|| ApiError::field(UNPROCESSABLE, name, "is required (YYYY-MM-DD)"))
    };
    let period = match query.get("period").map_or("day", String::as_str) {
        "day" => Period::Day,
        "week" => Period::Week,
        "month" => Period::Month,
        _ => {
            return Err(ApiError::field(
                UNPROCESSABLE,
                "period",
                "must be day, week or month",
            ));
        }
    };
    let range = ReportRange {
        from: date("from")?,
        to: date("to")?,
        period,
    };
    if range.to.epoch_day() - range.from.epoch_day() >= MAX_REPORT_DAYS {
        return Err(ApiError::field(
            UNPROCESSABLE,
            "to",
            format!("a report covers at most {MAX_REPORT_DAYS} days"),
        ));
    }
    let now_ms = api.now().saturating_mul(1000);
    let report = api
        .blocking(move |c| {
            c.report(range, now_ms).map_err(|e| match e {
                ReportFailure::Range(r) => {
                    let field = if matches!(r, crate::reports::ReportError::EmptyRange) {
                        "to"
                    } else {
                        "period"
                    };
                    ApiError::field(UNPROCESSABLE, field, r.to_string())
                }
                ReportFailure::NotConfigured => {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
                }
                ReportFailure::Store(s) => s.into(),
            })
        })
        .await?;
    Ok(Json(report).into_response())
}

fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CDRs as CSV, one line per call.
pub fn cdrs_csv(cdrs: &[Cdr]) -> String {
    let mut out = String::from(
        "call,site,line,outbound,number,started_us,answered_us,ended_us,hangup,cause,queue,agents,ivr_path,recording\n",
    );
    for c in cdrs {
        let fields = [
            c.call.to_string(),
            c.site.to_string(),
            c.line.clone(),
            c.outbound.to_string(),
            opt(&c.number),
            c.started_us.to_string(),
            opt(&c.answered_us),
            c.ended_us.to_string(),
            format!("{:?}", c.hangup),
            format!("{:?}", c.cause),
            opt(&c.queue),
            join(&c.agents),
            join(&c.ivr_path),
            opt(&c.recording),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, f);
        }
        out.push('\n');
    }
    out
}

/// CDRs per export page unless `limit` says otherwise.
const CDR_PAGE: usize = 1000;
/// Most CDRs one export page may hold.
const MAX_CDR_PAGE: usize = 10_000;
/// The response header with the cursor of the next export page.
const NEXT_CURSOR: &str = "x-next-cursor";

/// CDRs of calls that started on the local days `from` to `to` (YYYY-MM-DD, both
/// included, either open), oldest first, `limit` per page, as a JSON array or
/// CSV. When more follow, `X-Next-Cursor` holds the `after` of the next page.
/// Team leads get the calls of their groups' agents.
pub async fn cdrs(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let format = query.get("format").map_or("json", String::as_str);
    if !matches!(format, "json" | "csv") {
        return Err(ApiError::field(
            UNPROCESSABLE,
            "format",
            "must be json or csv",
        ));
    }
    let (from, to) = (date_param(&query, "from")?, date_param(&query, "to")?);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ApiError::field(
            UNPROCESSABLE,
            "to",
            "must not be before from",
        ));
    }
    let limit = match query.get("limit") {
        None => CDR_PAGE,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| (1..=MAX_CDR_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    UNPROCESSABLE,
                    "limit",
                    format!("must be a whole number from 1 to {MAX_CDR_PAGE}"),
                )
            })?,
    };
    let after = query
        .get("after")
        .map(|raw| {
            CdrKey::from_cursor(raw).ok_or_else(|| {
                ApiError::field(
                    UNPROCESSABLE,
                    "after",
                    "must be the X-Next-Cursor of an earlier page",
                )
            })
        })
        .transpose()?;
    let offset = api
        .coordinator()
        .routing_config()
        .map_or(0, |r| r.utc_offset_minutes);
    let midnight =
        |day: CivilDate, plus: i64| epoch_us(local_midnight_ms(day.epoch_day() + plus, offset));
    let started = from.map_or(0, |d| midnight(d, 0))..to.map_or(u64::MAX, |d| midnight(d, 1));
    let scope = api.clone();
    let page = api
        .blocking(move |c| {
            let visible = |cdr: &Cdr| {
                granted.scope == Scope::All || cdr.agents.iter().any(|a| granted.covers(&scope, *a))
            };
            Ok(c.store()
                .cdr_page(started, after.as_ref(), limit, visible)?)
        })
        .await?;
    let mut response = if format == "csv" {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            cdrs_csv(&page.cdrs),
        )
            .into_response()
    } else {
        Json(page.cdrs).into_response()
    };
    if let Some(next) = page.next {
        let cursor = HeaderValue::try_from(next.to_cursor()).map_err(ApiError::internal)?;
        response.headers_mut().insert(NEXT_CURSOR, cursor);
    }
    Ok(response)
}

/// Calls shown in a screen pop unless `limit` says otherwise.
const HISTORY_DEFAULT: usize = 20;
/// Most calls one history request may ask for.
pub const MAX_HISTORY_ROWS: usize = 100;
/// How far back a caller's history reaches.
pub const HISTORY_DAYS: u64 = 365;

/// The earlier calls of `number` in the last [`HISTORY_DAYS`] days, newest
/// first, with their dispositions; `limit` of them (at most
/// [`MAX_HISTORY_ROWS`]).
pub async fn history(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let number = query
        .get("number")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::field(UNPROCESSABLE, "number", "is required"))?
        .clone();
    tandem_node::limits::check_text("number", &number, tandem_node::limits::MAX_NUMBER)
        .map_err(|e| ApiError::field(UNPROCESSABLE, e.field, e.problem))?;
    let limit = match query.get("limit") {
        None => HISTORY_DEFAULT,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| (1..=MAX_HISTORY_ROWS).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    UNPROCESSABLE,
                    "limit",
                    format!("must be a whole number from 1 to {MAX_HISTORY_ROWS}"),
                )
            })?,
    };
    let since_us = api
        .now()
        .saturating_sub(HISTORY_DAYS * 86_400)
        .saturating_mul(1_000_000);
    if granted.scope != Scope::All {
        let current = granted
            .account
            .agent
            .and_then(|a| api.desk().agent_view(a))
            .and_then(|v| v.caller);
        if current.as_ref() != Some(&number) {
            return Err(ApiError::forbidden(
                "only the history of your current caller",
            ));
        }
    }
    let calls = api
        .blocking(move |c| Ok(c.store().latest_cdrs_of(&number, since_us, limit)?))
        .await?;
    let ids: Vec<_> = calls.iter().map(|c| c.call).collect();
    let dispositions = api.desk().dispositions(&ids);
    let rows: Vec<_> = calls
        .iter()
        .map(|c| {
            serde_json::json!({
                "call": c.call,
                "started_us": c.started_us,
                "ended_us": c.ended_us,
                "cause": c.cause,
                "queue": c.queue,
                "agents": c.agents,
                "disposition": dispositions.get(&c.call),
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid { field, problem } => {
                ApiError::field(UNPROCESSABLE, field, problem)
            }
            AccountError::Exists(_) => {
                ApiError::field(StatusCode::CONFLICT, "username", e.to_string())
            }
            AccountError::Unknown(_) => ApiError::not_found(e.to_string()),
            AccountError::LastAdmin(_) => {
                ApiError::field(StatusCode::CONFLICT, "role", e.to_string())
            }
            AccountError::Hash(_) | AccountError::Store(_) => ApiError::internal(e),
        }
    }
}

pub async fn accounts(State(api): State<Api>) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(api.blocking(|c| Ok(c.account_views()?)).await?))
}

pub async fn account_create(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    JsonBody(spec): JsonBody<AccountSpec>,
) -> Result<Response, ApiError> {
    let now = api.now();
    let account = api
        .blocking(move |c| Ok(c.store().put_account(&spec, true, now)?))
        .await?;
    tracing::info!(by = %granted.account.username, user = %account.username, role = %account.role, "account created");
    Ok((StatusCode::CREATED, Json(AccountView::from(&account))).into_response())
}

pub async fn account_update(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path(username): Path<String>,
    JsonBody(spec): JsonBody<AccountSpec>,
) -> Result<Response, ApiError> {
    if spec.username != username {
        return Err(ApiError::field(
            UNPROCESSABLE,
            "username",
            "must match the account in the path (accounts are not renamed)",
        ));
    }
    let now = api.now();
    let account = api
        .blocking(move |c| Ok(c.store().put_account(&spec, false, now)?))
        .await?;
    tracing::info!(by = %granted.account.username, user = %account.username, role = %account.role, "account updated");
    Ok(Json(AccountView::from(&account)).into_response())
}

pub async fn account_delete(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    if username == granted.account.username {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot delete your own account",
        ));
    }
    let name = username.clone();
    api.blocking(move |c| Ok(c.store().delete_account(&name)?))
        .await?;
    tracing::info!(by = %granted.account.username, user = ?username, "account deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Liveness and the store's state: 200 "ok" while the store takes writes,
/// 503 with the fault's reason while it does not (a full disk, an I/O error), so
/// a load balancer or an operator's probe sees the fault.
pub async fn healthz(State(api): State<Api>) -> Response {
    match api.coordinator().store().health().fault {
        None => "ok".into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store: writes failing: {reason}"),
        )
            .into_response(),
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(api): State<Api>) -> Response {
    let c = api.coordinator();
    let desk = api.desk().metrics();
    let relay = c.relay_counters();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let one = |v: u64| vec![(String::new(), v)];
    metric(
        "tandem_nodes_online",
        "gauge",
        "Gateways connected now.",
        &one(c.registry().len() as u64),
    );
    metric(
        "tandem_calls_active",
        "gauge",
        "Calls in progress.",
        &one(desk.calls_active),
    );
    let depth: Vec<_> = desk
        .queue_depth
        .iter()
        .map(|(q, n)| (format!("{{queue=\"{q}\"}}"), *n))
        .collect();
    metric(
        "tandem_queue_depth",
        "gauge",
        "Calls waiting, per queue.",
        &depth,
    );
    metric(
        "tandem_relay_datagrams_forwarded_total",
        "counter",
        "Media datagrams forwarded by the relay.",
        &one(relay.forwarded),
    );
    metric(
        "tandem_relay_bytes_forwarded_total",
        "counter",
        "Bytes of media datagrams forwarded by the relay.",
        &one(relay.forwarded_bytes),
    );
    let refused = [
        ("malformed", relay.malformed),
        ("unknown_leg", relay.unknown_leg),
        ("not_owner", relay.not_owner),
    ]
    .map(|(reason, n)| (format!("{{reason=\"{reason}\"}}"), n));
    metric(
        "tandem_relay_datagrams_refused_total",
        "counter",
        "Media datagrams the relay refused.",
        &refused,
    );
    let refusals: Vec<_> = c
        .authority_refusals()
        .all()
        .into_iter()
        .map(|(node, kind, n)| (format!("{{node=\"{node}\",kind=\"{}\"}}", kind.as_str()), n))
        .collect();
    metric(
        "tandem_authority_refusals_total",
        "counter",
        "Acts refused because a node spoke for another site, by node and kind (media counts datagrams).",
        &refusals,
    );
    let store = c.store().health();
    let journal = c.journal_stats();
    metric(
        "tandem_store_up",
        "gauge",
        "1 while the store takes writes, 0 while it is faulted (full disk, I/O error).",
        &one(u64::from(store.fault.is_none())),
    );
    metric(
        "tandem_store_io_errors_total",
        "counter",
        "Failed storage operations (reads, writes, syncs, reopens).",
        &one(store.io_errors),
    );
    metric(
        "tandem_store_faults_total",
        "counter",
        "Times the store went from healthy to faulted.",
        &one(store.faults),
    );
    metric(
        "tandem_store_recoveries_total",
        "counter",
        "Times the store reopened and took writes again after a fault.",
        &one(store.recoveries),
    );
    metric(
        "tandem_store_journal_held",
        "gauge",
        "Queue events and dispositions held in memory until the store takes writes.",
        &one(journal.held),
    );
    metric(
        "tandem_store_journal_dropped_total",
        "counter",
        "Held call records dropped because the journal was full.",
        &one(journal.dropped),
    );
    metric(
        "tandem_uptime_seconds",
        "gauge",
        "Seconds since the HTTP API started.",
        &one(api.now().saturating_sub(api.0.started_at)),
    );
    let logins = api
        .0
        .logins
        .samples()
        .map(|(result, n)| (format!("{{result=\"{result}\"}}"), n));
    metric(
        "tandem_logins_total",
        "counter",
        "Login attempts by outcome: passwords verified (argon2 runs), failed, throttled (429 without a check), busy (503: too many checks at once).",
        &logins,
    );
    let media = c.media_reports().all();
    let node_labels = |r: &NodeMediaReport| format!("node=\"{}\",site=\"{}\"", r.node, r.site);
    let outcomes: Vec<_> = media
        .iter()
        .flat_map(|r| {
            let (node, t) = (node_labels(r), &r.totals);
            [
                ("received", t.received),
                ("lost", t.lost),
                ("late", t.late),
                ("duplicate", t.duplicates),
                ("concealed", t.concealed),
                ("fec_recovered", t.fec_recovered),
                ("dropped", t.dropped),
            ]
            .map(|(outcome, n)| (format!("{{{node},outcome=\"{outcome}\"}}"), n))
        })
        .collect();
    let per_node = |value: fn(&MediaTotals) -> u64| -> Vec<(String, u64)> {
        media
            .iter()
            .map(|r| (format!("{{{}}}", node_labels(r)), value(&r.totals)))
            .collect()
    };
    metric(
        "tandem_media_frames_total",
        "counter",
        "Media at gateways' jitter buffers since each gateway started, by outcome: packets received, lost, late or duplicate; frames concealed, rebuilt from FEC or dropped to cut delay.",
        &outcomes,
    );
    metric(
        "tandem_media_packets_expected_total",
        "counter",
        "Media packets gateways' jitter buffers expected from sequence numbers since each gateway started.",
        &per_node(|t| t.expected),
    );
    metric(
        "tandem_media_legs_ended_total",
        "counter",
        "Media legs gateways stopped receiving since each gateway started.",
        &per_node(|t| t.legs_ended),
    );
    let latency = &desk.routing_latency;
    let name = "tandem_routing_decision_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time call control takes per decision (a report, a command or a timer).\n# TYPE {name} histogram"
    );
    for (bound_us, n) in &latency.buckets {
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"{}\"}} {n}",
            *bound_us as f64 / 1e6
        );
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", latency.count);
    let _ = writeln!(out, "{name}_sum {}", latency.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {}", latency.count);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
