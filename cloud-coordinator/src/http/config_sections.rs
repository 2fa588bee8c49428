//! The center configuration edited one piece at a time, as the admin pages'
//! forms do it: agents (with their seat, supervision and group memberships),
//! groups and skills, queues, IVR flows, business-hours calendars, site
//! settings, and the blacklist and VIP lists.
//!
//! Every change is made to a copy of the configuration in force and the whole
//! copy is validated before anything is stored, so a form can never leave a
//! dangling reference or a half-applied change; the error names the field.
//! Two administrators editing different things both land (changes are applied
//! one at a time to the latest version); an editor who passes the `version`
//! they started from is refused with 409 if someone else changed it since.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_node::calls::{
    CenterConfig, SeatRef, SiteConfig, SupervisorConfig, SupervisorRole, ValidCenterConfig,
};
use tandem_node::ivr::{Calendar, Flow};
use tandem_node::names::Site;
use tandem_node::routing::{
    AgentConfig, AgentId, BlacklistRule, DEFAULT_PROFICIENCY, GroupConfig, GroupId, Membership,
    QueueConfig, QueueId, TimeWindow, VipRule,
};

use super::authz::Granted;
use super::handlers::config_error;
use super::{Api, ApiError, parse_json};

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// The longest flow or calendar name a form may create.
const MAX_NAME_LEN: usize = 64;

/// A part of the configuration with its own admin form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Agents,
    Groups,
    Queues,
    Flows,
    Calendars,
    Sites,
    Blacklist,
    Vips,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Agents,
        Section::Groups,
        Section::Queues,
        Section::Flows,
        Section::Calendars,
        Section::Sites,
        Section::Blacklist,
        Section::Vips,
    ];

    /// Its name in the URL.
    pub fn name(self) -> &'static str {
        match self {
            Section::Agents => "agents",
            Section::Groups => "groups",
            Section::Queues => "queues",
            Section::Flows => "flows",
            Section::Calendars => "calendars",
            Section::Sites => "sites",
            Section::Blacklist => "blacklist",
            Section::Vips => "vips",
        }
    }

    fn parse(raw: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == raw)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
                ApiError::not_found(format!(
                    "no configuration section {raw:?}; there are {}",
                    names.join(", ")
                ))
            })
    }

    /// The name of the item's key, for errors.
    fn key_field(self) -> &'static str {
        match self {
            Section::Agents | Section::Groups | Section::Queues => "id",
            Section::Flows | Section::Calendars => "name",
            Section::Sites => "site",
            // Lists have no key; their body is the whole list.
            Section::Blacklist | Section::Vips => "body",
        }
    }
}

/// An agent as the agent form shows and edits it: the routing entry, where
/// their audio is, whether they supervise, and the groups (teams, skills,
/// expert pools) they belong to with their level in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    pub agent: AgentConfig,
    /// Headset seat or FXS phone; an agent without one cannot take calls.
    #[serde(default)]
    pub seat: Option<Seat>,
    #[serde(default)]
    pub supervisor: Option<Supervision>,
    /// Exactly the groups the agent is in; groups not listed lose the agent.
    #[serde(default)]
    pub memberships: Vec<AgentMembership>,
}

/// Where an agent's audio is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seat {
    /// The node hosting the seat.
    pub site: Site,
    /// Seat or FXS port id from that node's board file.
    pub endpoint: String,
}

/// A supervisor's reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervision {
    pub role: SupervisorRole,
    /// The groups a team lead leads.
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

/// The agent's place in one group, as [`Membership`] without the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentMembership {
    pub group: GroupId,
    #[serde(default)]
    pub priority: u8,
    #[serde(default = "default_proficiency")]
    pub proficiency: u8,
    #[serde(default)]
    pub windows: Vec<TimeWindow>,
}

fn default_proficiency() -> u8 {
    DEFAULT_PROFICIENCY
}

impl AgentEntry {
    /// `agent` with everything the configuration says about them.
    fn of(config: &CenterConfig, agent: &AgentConfig) -> Self {
        let id = agent.id;
        AgentEntry {
            agent: agent.clone(),
            seat: config.seats.iter().find(|s| s.agent == id).map(|s| Seat {
                site: s.site.clone(),
                endpoint: s.endpoint.clone(),
            }),
            supervisor: config
                .supervisors
                .iter()
                .find(|s| s.agent == id)
                .map(|s| Supervision {
                    role: s.role,
                    groups: s.groups.clone(),
                }),
            memberships: config
                .routing
                .groups
                .iter()
                .filter_map(|g| {
                    let m = g.members.iter().find(|m| m.agent == id)?;
                    Some(AgentMembership {
                        group: g.id,
                        priority: m.priority,
                        proficiency: m.proficiency,
                        windows: m.windows.clone(),
                    })
                })
                .collect(),
        }
    }

    /// Writes this entry into `config`, replacing whatever it said about the
    /// agent before.
    fn apply(self, config: &mut CenterConfig) -> Result<(), ApiError> {
        let id = self.agent.id;
        for (i, m) in self.memberships.iter().enumerate() {
            let field = || format!("memberships[{i}].group");
            if !config.routing.groups.iter().any(|g| g.id == m.group) {
                return Err(ApiError::field(
                    UNPROCESSABLE,
                    field(),
                    format!("unknown group {}", m.group),
                ));
            }
            if self.memberships[..i].iter().any(|n| n.group == m.group) {
                return Err(ApiError::field(
                    UNPROCESSABLE,
                    field(),
                    format!("group {} listed twice", m.group),
                ));
            }
        }
        upsert(&mut config.routing.agents, self.agent, |a| a.id);
        config.seats.retain(|s| s.agent != id);
        if let Some(seat) = self.seat {
            config.seats.push(SeatRef {
                agent: id,
                site: seat.site,
                endpoint: seat.endpoint,
            });
        }
        config.supervisors.retain(|s| s.agent != id);
        if let Some(s) = self.supervisor {
            config.supervisors.push(SupervisorConfig {
                agent: id,
                role: s.role,
                groups: s.groups,
            });
        }
        for group in &mut config.routing.groups {
            match self.memberships.iter().find(|m| m.group == group.id) {
                Some(m) => upsert(
                    &mut group.members,
                    Membership {
                        agent: id,
                        priority: m.priority,
                        proficiency: m.proficiency,
                        windows: m.windows.clone(),
                    },
                    |x| x.agent,
                ),
                None => group.members.retain(|x| x.agent != id),
            }
        }
        Ok(())
    }
}

/// Replaces the item with `item`'s key, in place, or appends `item`.
fn upsert<T, K: PartialEq>(list: &mut Vec<T>, item: T, key: impl Fn(&T) -> K) {
    let wanted = key(&item);
    match list.iter_mut().find(|x| key(x) == wanted) {
        Some(slot) => *slot = item,
        None => list.push(item),
    }
}

/// Removes what `matches` picks; 404 if nothing did.
fn remove<T>(
    list: &mut Vec<T>,
    matches: impl Fn(&T) -> bool,
    what: String,
) -> Result<(), ApiError> {
    let before = list.len();
    list.retain(|x| !matches(x));
    if list.len() == before {
        return Err(ApiError::not_found(format!("no {what}")));
    }
    Ok(())
}

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// An item's key from the URL.
enum Key {
    Id(u32),
    Name(String),
    Site(Site),
}

impl Key {
    fn parse(section: Section, raw: &str) -> Result<Key, ApiError> {
        let bad = |problem: &str| ApiError::field(UNPROCESSABLE, section.key_field(), problem);
        match section {
            Section::Agents | Section::Groups | Section::Queues => raw
                .parse()
                .map(Key::Id)
                .map_err(|_| bad("must be a whole number")),
            Section::Flows | Section::Calendars => {
                let fine = !raw.is_empty()
                    && raw.len() <= MAX_NAME_LEN
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                if fine {
                    Ok(Key::Name(raw.to_owned()))
                } else {
                    Err(bad(&format!(
                        "1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.', without spaces"
                    )))
                }
            }
            Section::Sites => Site::new(raw)
                .map(Key::Site)
                .map_err(|e| bad(&e.to_string())),
            Section::Blacklist | Section::Vips => Err(not_keyed(section)),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Id(id) => write!(f, "{id}"),
            Key::Name(name) => f.write_str(name),
            Key::Site(site) => f.write_str(site.as_str()),
        }
    }
}

/// Every item of `section`: an array, or an object by name for flows and
/// calendars.
fn list(config: &CenterConfig, section: Section) -> Result<serde_json::Value, ApiError> {
    match section {
        Section::Agents => json(
            &config
                .routing
                .agents
                .iter()
                .map(|a| AgentEntry::of(config, a))
                .collect::<Vec<_>>(),
        ),
        Section::Groups => json(&config.routing.groups),
        Section::Queues => json(&config.routing.queues),
        Section::Flows => json(&config.ivr.flows),
        Section::Calendars => json(&config.ivr.calendars),
        Section::Sites => json(&config.sites),
        Section::Blacklist => json(&config.routing.blacklist),
        Section::Vips => json(&config.routing.vips),
    }
}

/// One item of a keyed section.
fn item(config: &CenterConfig, section: Section, key: &Key) -> Result<serde_json::Value, ApiError> {
    let found = match (section, key) {
        (Section::Agents, Key::Id(id)) => config
            .routing
            .agents
            .iter()
            .find(|a| a.id == AgentId(*id))
            .map(|a| json(&AgentEntry::of(config, a))),
        (Section::Groups, Key::Id(id)) => config
            .routing
            .groups
            .iter()
            .find(|g| g.id == GroupId(*id))
            .map(json),
        (Section::Queues, Key::Id(id)) => config
            .routing
            .queues
            .iter()
            .find(|q| q.id == QueueId(*id))
            .map(json),
        (Section::Flows, Key::Name(name)) => config.ivr.flows.get(name).map(json),
        (Section::Calendars, Key::Name(name)) => config.ivr.calendars.get(name).map(json),
        (Section::Sites, Key::Site(site)) => {
            config.sites.iter().find(|s| &s.site == site).map(json)
        }
        _ => None,
    };
    found.unwrap_or_else(|| Err(ApiError::not_found(format!("no {} {key}", section.name()))))
}

/// 422 naming the key field when the body's key differs from the URL's.
fn same_key(section: Section, matches: bool) -> Result<(), ApiError> {
    if matches {
        Ok(())
    } else {
        Err(ApiError::field(
            UNPROCESSABLE,
            section.key_field(),
            "must match the one in the URL",
        ))
    }
}

/// Sets item `key` of `section` to `body`, creating it if new.
fn put(
    config: &mut CenterConfig,
    section: Section,
    key: &Key,
    body: &[u8],
) -> Result<(), ApiError> {
    match (section, key) {
        (Section::Agents, Key::Id(id)) => {
            let entry: AgentEntry = parse_json(body)?;
            if entry.agent.id != AgentId(*id) {
                return Err(ApiError::field(
                    UNPROCESSABLE,
                    "agent.id",
                    "must match the one in the URL",
                ));
            }
            entry.apply(config)?;
        }
        (Section::Groups, Key::Id(id)) => {
            let group: GroupConfig = parse_json(body)?;
            same_key(section, group.id == GroupId(*id))?;
            upsert(&mut config.routing.groups, group, |g| g.id);
        }
        (Section::Queues, Key::Id(id)) => {
            let queue: QueueConfig = parse_json(body)?;
            same_key(section, queue.id == QueueId(*id))?;
            upsert(&mut config.routing.queues, queue, |q| q.id);
        }
        (Section::Flows, Key::Name(name)) => {
            let flow: Flow = parse_json(body)?;
            config.ivr.flows.insert(name.clone(), flow);
        }
        (Section::Calendars, Key::Name(name)) => {
            let calendar: Calendar = parse_json(body)?;
            config.ivr.calendars.insert(name.clone(), calendar);
        }
        (Section::Sites, Key::Site(key)) => {
            let site: SiteConfig = parse_json(body)?;
            same_key(section, &site.site == key)?;
            upsert(&mut config.sites, site, |s| s.site.clone());
        }
        _ => return Err(not_keyed(section)),
    }
    Ok(())
}

/// Removes item `key` of `section`, with what only it owned: an agent's
/// seat, supervision and memberships; a group's place in supervisors' reach.
/// Anything else still naming it (a queue targeting the group, a site running
/// the flow) makes validation refuse the deletion, naming that field.
fn delete(config: &mut CenterConfig, section: Section, key: &Key) -> Result<(), ApiError> {
    let what = || format!("{} {key}", section.name());
    match (section, key) {
        (Section::Agents, Key::Id(id)) => {
            let agent = AgentId(*id);
            remove(&mut config.routing.agents, |a| a.id == agent, what())?;
            config.seats.retain(|s| s.agent != agent);
            config.supervisors.retain(|s| s.agent != agent);
            for g in &mut config.routing.groups {
                g.members.retain(|m| m.agent != agent);
            }
            for v in &mut config.routing.vips {
                v.agents.retain(|a| *a != agent);
            }
        }
        (Section::Groups, Key::Id(id)) => {
            let group = GroupId(*id);
            remove(&mut config.routing.groups, |g| g.id == group, what())?;
            for s in &mut config.supervisors {
                s.groups.retain(|g| *g != group);
            }
        }
        (Section::Queues, Key::Id(id)) => {
            remove(&mut config.routing.queues, |q| q.id == QueueId(*id), what())?
        }
        (Section::Flows, Key::Name(name)) => remove_named(&mut config.ivr.flows, name, what())?,
        (Section::Calendars, Key::Name(name)) => {
            remove_named(&mut config.ivr.calendars, name, what())?
        }
        (Section::Sites, Key::Site(site)) => {
            remove(&mut config.sites, |s| &s.site == site, what())?
        }
        _ => return Err(not_keyed(section)),
    }
    Ok(())
}

fn remove_named<T>(
    map: &mut BTreeMap<String, T>,
    name: &str,
    what: String,
) -> Result<(), ApiError> {
    map.remove(name)
        .map(drop)
        .ok_or_else(|| ApiError::not_found(format!("no {what}")))
}

/// List sections have no items by key ([`Key::parse`] refuses them first).
fn not_keyed(section: Section) -> ApiError {
    ApiError::not_found(format!(
        "the {} is edited as one list: PUT /api/v1/config/{}",
        section.name(),
        section.name()
    ))
}

/// Replaces a whole list section (blacklist, VIPs) with `body`.
fn replace(config: &mut CenterConfig, section: Section, body: &[u8]) -> Result<(), ApiError> {
    match section {
        Section::Blacklist => config.routing.blacklist = parse_json::<Vec<BlacklistRule>>(body)?,
        Section::Vips => config.routing.vips = parse_json::<Vec<VipRule>>(body)?,
        _ => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} are edited one at a time: PUT /api/v1/config/{}/{{{}}}",
                    section.name(),
                    section.name(),
                    section.key_field()
                ),
            ));
        }
    }
    Ok(())
}

/// The `version` the editor started from, if given.
fn expected_version(query: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    query
        .get("version")
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::field(UNPROCESSABLE, "version", "must be a whole number"))
        })
        .transpose()
}

/// 404: there is nothing to show or edit before the first configuration.
fn not_loaded() -> ApiError {
    ApiError::not_found("no configuration loaded")
}

/// The configuration in force and its version, or [`not_loaded`].
pub(super) fn loaded(api: &Api) -> Result<(u64, CenterConfig), ApiError> {
    api.desk().config().ok_or_else(not_loaded)
}

/// Applies `change` to the configuration in force, validates the result whole
/// and installs it.
async fn edit(
    api: Api,
    granted: Granted,
    what: String,
    query: HashMap<String, String>,
    change: impl FnOnce(&mut CenterConfig) -> Result<(), ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let expected = expected_version(&query)?;
    let version = api
        .desk_blocking(move |desk| {
            desk.update_config(
                expected,
                Box::new(|current| {
                    let mut config = current.cloned().ok_or_else(not_loaded)?;
                    change(&mut config)?;
                    ValidCenterConfig::validate(config).map_err(|e| config_error(&e))
                }),
            )
        })
        .await?;
    tracing::info!(user = %granted.account.username, %what, version, "center configuration changed");
    Ok(Json(serde_json::json!({ "version": version })).into_response())
}

/// What `PUT /api/v1/config/{section}` (no `key`) or
/// `PUT /api/v1/config/{section}/{key}` makes of `body` on top of `current`:
/// the validated replacement, or the error the request gets. The handlers'
/// steps without the store, for the fuzz targets.
pub fn apply_put(
    current: &CenterConfig,
    section: &str,
    key: Option<&str>,
    body: &[u8],
) -> Result<ValidCenterConfig, ApiError> {
    let section = Section::parse(section)?;
    let mut config = current.clone();
    match key {
        Some(raw) => put(&mut config, section, &Key::parse(section, raw)?, body)?,
        None => replace(&mut config, section, body)?,
    }
    ValidCenterConfig::validate(config).map_err(|e| config_error(&e))
}

/// `GET /api/v1/config/{section}`: the section's items and the version.
pub async fn section_get(
    State(api): State<Api>,
    Path(section): Path<String>,
) -> Result<Response, ApiError> {
    let section = Section::parse(&section)?;
    let (version, config) = loaded(&api)?;
    let items = list(&config, section)?;
    Ok(Json(serde_json::json!({ "version": version, "items": items })).into_response())
}

/// `PUT /api/v1/config/{section}`: a whole list section.
pub async fn section_put(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path(section): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let section = Section::parse(&section)?;
    let what = section.name().to_owned();
    edit(api, granted, what, query, move |config| {
        replace(config, section, &body)
    })
    .await
}

/// `GET /api/v1/config/{section}/{key}`: one item and the version.
pub async fn item_get(
    State(api): State<Api>,
    Path((section, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let section = Section::parse(&section)?;
    let key = Key::parse(section, &key)?;
    let (version, config) = loaded(&api)?;
    let item = item(&config, section, &key)?;
    Ok(Json(serde_json::json!({ "version": version, "item": item })).into_response())
}

/// `PUT /api/v1/config/{section}/{key}`: creates or replaces one item.
pub async fn item_put(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path((section, key)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let section = Section::parse(&section)?;
    let key = Key::parse(section, &key)?;
    let what = format!("{} {}", section.name(), key);
    edit(api, granted, what, query, move |config| {
        put(config, section, &key, &body)
    })
    .await
}

/// `DELETE /api/v1/config/{section}/{key}`.
pub async fn item_delete(
    State(api): State<Api>,
    Extension(granted): Extension<Granted>,
    Path((section, key)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let section = Section::parse(&section)?;
    let key = Key::parse(section, &key)?;
    let what = format!("deleted {} {}", section.name(), key);
    edit(api, granted, what, query, move |config| {
        delete(config, section, &key)
    })
    .await
}
