//! Reports for administrators and duty managers: per day, week or month, per
//! queue, agent and site — offered, answered, abandoned, service level, ASA, AHT,
//! answer rate, occupancy, trunk occupancy and IVR node visits.
//!
//! Pure: computed from the routing events (the coordinator's own and those a
//! gateway's local router recorded while the WAN was down), the CDRs and the
//! configuration, with the KPI definitions of [`tandem_node::routing::KpiReport`],
//! so a report and the live wallboard mean the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tandem_node::calls::Cdr;
use tandem_node::ivr::CivilDate;
use tandem_node::names::Site;
use tandem_node::routing::{
    AgentId, AgentState, Event, EventKind, KpiReport, QueueId, QueueKpis, RoutingConfig,
    Site as AgentSite, Timestamp,
};

const DAY_MS: i64 = 86_400_000;
/// Most periods one report may hold (a year of days).
pub const MAX_PERIODS: usize = 400;

/// How a report's range is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Local calendar days.
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

/// Why a report cannot be made; the message names the parameter.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    /// `from` is not before `to`.
    #[error("to: must be after from")]
    EmptyRange,
    /// Too many periods.
    #[error(
        "period: the range holds more than {MAX_PERIODS} periods; choose a longer period or a shorter range"
    )]
    TooManyPeriods,
}

/// One queue in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRow {
    /// The queue (0 for the totals row).
    pub queue: QueueId,
    /// Its name.
    pub name: String,
    /// Answered + abandoned (callbacks and refused calls excluded).
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Percent answered within the queue's threshold.
    pub service_level_percent: Option<f64>,
    pub asa_ms: Option<f64>,
    pub aht_ms: Option<f64>,
    /// Percent of offers decided by agents that they answered.
    pub answer_rate_percent: Option<f64>,
    pub abandonment_percent: Option<f64>,
}

/// One agent in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    pub agent: AgentId,
    pub name: String,
    /// Where the agent sits ("home" for remote agents).
    pub site: String,
    /// Calls the agent answered (CDRs naming them).
    pub answered: u64,
    /// On call or in wrap-up.
    pub handle_ms: u64,
    /// Ready or ringing.
    pub available_ms: u64,
    pub occupancy_percent: Option<f64>,
}

/// One branch in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRow {
    pub site: Site,
    /// Calls on its lines (inbound and outbound).
    pub calls: u64,
    pub inbound: u64,
    pub outbound: u64,
    /// Calls on its lines an agent answered.
    pub answered: u64,
    /// Lines (FXO ports and E1 timeslots) its gateway reported.
    pub lines: u32,
    /// Line time in use ÷ (lines × period length), percent.
    pub trunk_occupancy_percent: Option<f64>,
}

impl SiteRow {
    fn empty(site: Site, lines: u32) -> SiteRow {
        SiteRow {
            site,
            calls: 0,
            inbound: 0,
            outbound: 0,
            answered: 0,
            lines,
            trunk_occupancy_percent: None,
        }
    }
}

/// One period of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodReport {
    /// "2026-11-23", "2026-W48" or "2026-11".
    pub label: String,
    /// Unix ms, inclusive.
    pub start_ms: u64,
    /// Unix ms, exclusive.
    pub end_ms: u64,
    pub queues: Vec<QueueRow>,
    pub totals: QueueRow,
    pub agents: Vec<AgentRow>,
    pub sites: Vec<SiteRow>,
    /// IVR node → entries, from the CDRs of calls that started in the period.
    pub ivr_node_visits: BTreeMap<String, u64>,
}

/// What a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRange {
    /// First local day (inclusive).
    pub from: CivilDate,
    /// Last local day (inclusive).
    pub to: CivilDate,
    pub period: Period,
}

/// Everything a report is computed from.
pub struct ReportInput<'a> {
    /// Routing events in time order.
    pub events: &'a [Event],
    pub cdrs: &'a [Cdr],
    pub config: &'a RoutingConfig,
    /// Lines per site, from the gateways' inventories.
    pub lines: &'a BTreeMap<Site, u32>,
}

/// Cuts `range` into periods and computes each.
pub fn build(
    input: &ReportInput<'_>,
    range: ReportRange,
) -> Result<Vec<PeriodReport>, ReportError> {
    let periods = periods(range, input.config.utc_offset_minutes)?;
    Ok(periods
        .into_iter()
        .map(|(label, start, end)| period(input, label, start, end))
        .collect())
}

/// Where local day `epoch_day` begins in UTC ms, for a center `offset_minutes`
/// east of UTC: the bounds of report periods and of a CDR export's days.
pub fn local_midnight_ms(epoch_day: i64, offset_minutes: i16) -> i64 {
    epoch_day * DAY_MS - i64::from(offset_minutes) * 60_000
}

/// A UTC instant in ms as µs since the epoch, the unit of CDR times (instants
/// before 1970 become 0: no CDR is older).
pub fn epoch_us(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1000)
}

/// The UTC span (start ms inclusive, end ms exclusive) of `range`'s periods,
/// which may begin before `from` and end after `to` (whole weeks and months):
/// the CDRs a report has to read.
pub fn window_ms(range: ReportRange, offset_minutes: i16) -> Result<(i64, i64), ReportError> {
    let periods = periods(range, offset_minutes)?;
    match (periods.first(), periods.last()) {
        (Some((_, start, _)), Some((_, _, end))) => Ok((*start, *end)),
        _ => Err(ReportError::EmptyRange),
    }
}

/// The periods of `range` as (label, start ms, end ms) in UTC.
fn periods(
    range: ReportRange,
    offset_minutes: i16,
) -> Result<Vec<(String, i64, i64)>, ReportError> {
    let (first, last) = (range.from.epoch_day(), range.to.epoch_day());
    if last < first {
        return Err(ReportError::EmptyRange);
    }
    let mut out = Vec::new();
    let mut day = match range.period {
        Period::Day => first,
        Period::Week => first - i64::from(CivilDate::from_epoch_day(first).weekday()),
        Period::Month => {
            let (y, m, _) = CivilDate::from_epoch_day(first).ymd();
            CivilDate::new(y as i32, m, 1).map_or(first, CivilDate::epoch_day)
        }
    };
    while day <= last {
        if out.len() == MAX_PERIODS {
            return Err(ReportError::TooManyPeriods);
        }
        let date = CivilDate::from_epoch_day(day);
        let (y, m, _) = date.ymd();
        let (label, next) = match range.period {
            Period::Day => (date.to_string(), day + 1),
            Period::Week => {
                // ISO week: the week belongs to the year of its Thursday.
                let thursday = CivilDate::from_epoch_day(day + 3);
                let (ty, _, _) = thursday.ymd();
                let jan1 = CivilDate::new(ty as i32, 1, 1).map_or(day, CivilDate::epoch_day);
                let week = (day + 3 - jan1) / 7 + 1;
                (format!("{ty:04}-W{week:02}"), day + 7)
            }
            Period::Month => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let next = CivilDate::new(ny as i32, nm, 1).map_or(day + 31, CivilDate::epoch_day);
                (format!("{y:04}-{m:02}"), next)
            }
        };
        out.push((
            label,
            local_midnight_ms(day, offset_minutes),
            local_midnight_ms(next, offset_minutes),
        ));
        day = next;
    }
    Ok(out)
}

fn percent(x: Option<f64>) -> Option<f64> {
    x.map(|v| v * 100.0)
}

fn queue_row(queue: QueueId, name: String, k: &QueueKpis) -> QueueRow {
    QueueRow {
        queue,
        name,
        offered: k.queued(),
        answered: k.answered,
        abandoned: k.abandoned,
        service_level_percent: percent(k.service_level()),
        asa_ms: k.asa_ms(),
        aht_ms: k.aht_ms(),
        answer_rate_percent: percent(k.answer_rate()),
        abandonment_percent: percent(k.abandonment_rate()),
    }
}

fn period(input: &ReportInput<'_>, label: String, start: i64, end: i64) -> PeriodReport {
    let (start_ms, end_ms) = (start.max(0) as u64, end.max(0) as u64);
    // Agents keep the state they had when the period began.
    let mut state_at_start: BTreeMap<AgentId, AgentState> = BTreeMap::new();
    let mut window = Vec::new();
    for e in input.events {
        if e.at.0 < start_ms {
            if let EventKind::AgentStateChanged { agent, state } = &e.kind {
                state_at_start.insert(*agent, state.clone());
            }
        } else if e.at.0 < end_ms {
            window.push(e.clone());
        }
    }
    let mut events: Vec<Event> = state_at_start
        .into_iter()
        .map(|(agent, state)| Event {
            at: Timestamp(start_ms),
            kind: EventKind::AgentStateChanged { agent, state },
        })
        .collect();
    events.extend(window);
    let kpis = KpiReport::from_events(&events, input.config, Timestamp(end_ms));

    let queue_name = |q: QueueId| {
        input
            .config
            .queues
            .iter()
            .find(|c| c.id == q)
            .map_or_else(|| format!("queue {q}"), |c| c.name.clone())
    };
    let queues = kpis
        .queues
        .iter()
        .map(|(q, k)| queue_row(*q, queue_name(*q), k))
        .collect();
    let totals = queue_row(QueueId(0), "all queues".into(), &kpis.total());

    let in_period: Vec<&Cdr> = input
        .cdrs
        .iter()
        .filter(|c| (start_ms..end_ms).contains(&(c.started_us / 1000)))
        .collect();
    let mut answered_by: BTreeMap<AgentId, u64> = BTreeMap::new();
    let mut ivr_node_visits = BTreeMap::new();
    for c in &in_period {
        for a in &c.agents {
            *answered_by.entry(*a).or_default() += 1;
        }
        for node in &c.ivr_path {
            *ivr_node_visits.entry(node.clone()).or_default() += 1;
        }
    }
    let agents = input
        .config
        .agents
        .iter()
        .map(|a| {
            let k = kpis.agents.get(&a.id).cloned().unwrap_or_default();
            AgentRow {
                agent: a.id,
                name: a.name.clone(),
                site: match &a.site {
                    AgentSite::Branch(s) => s.clone(),
                    AgentSite::Home => "home".into(),
                },
                answered: answered_by.get(&a.id).copied().unwrap_or(0),
                handle_ms: k.handle_ms,
                available_ms: k.available_ms,
                occupancy_percent: percent(k.occupancy()),
            }
        })
        .collect();

    let mut sites: BTreeMap<Site, SiteRow> = input
        .lines
        .iter()
        .map(|(site, lines)| (site.clone(), SiteRow::empty(site.clone(), *lines)))
        .collect();
    let mut busy_ms: BTreeMap<Site, u64> = BTreeMap::new();
    for c in input.cdrs {
        // Line time counts where it falls, whenever the call started.
        let (a, b) = (c.started_us / 1000, c.ended_us / 1000);
        let overlap = b.min(end_ms).saturating_sub(a.max(start_ms));
        *busy_ms.entry(c.site.clone()).or_default() += overlap;
    }
    for c in &in_period {
        // A site no gateway reports lines for (revoked since) still shows its calls.
        let row = sites
            .entry(c.site.clone())
            .or_insert_with(|| SiteRow::empty(c.site.clone(), 0));
        row.calls += 1;
        if c.outbound {
            row.outbound += 1;
        } else {
            row.inbound += 1;
        }
        row.answered += u64::from(c.answered_us.is_some());
    }
    let length = end_ms.saturating_sub(start_ms);
    for row in sites.values_mut() {
        let capacity = u64::from(row.lines) * length;
        let busy = busy_ms.get(&row.site).copied().unwrap_or(0);
        row.trunk_occupancy_percent = (capacity > 0).then(|| busy as f64 * 100.0 / capacity as f64);
    }

    PeriodReport {
        label,
        start_ms,
        end_ms,
        queues,
        totals,
        agents,
        sites: sites.into_values().collect(),
        ivr_node_visits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node::calls::{CdrEvent, EndCause, Hangup, ValidCenterConfig};
    use tandem_node::routing::{CallId, Channel, OfferId};

    fn date(s: &str) -> CivilDate {
        CivilDate::try_from(s.to_owned()).unwrap()
    }

    fn config() -> RoutingConfig {
        let text = include_str!("../../center-configs/demo.toml");
        ValidCenterConfig::from_toml(text)
            .unwrap()
            .config()
            .routing
            .clone()
    }

    /// Beijing midnight of 2026-11-23 (UTC+8), in unix ms.
    const DAY0: u64 = 1_795_363_200_000;

    fn ev(at: u64, kind: EventKind) -> Event {
        Event {
            at: Timestamp(at),
            kind,
        }
    }

    #[test]
    fn periods_follow_local_days_iso_weeks_and_months() {
        let p = periods(
            ReportRange {
                from: date("2026-11-23"),
                to: date("2026-11-24"),
                period: Period::Day,
            },
            480,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, "2026-11-23");
        assert_eq!(p[0].1 as u64, DAY0);
        assert_eq!((p[0].2 - p[0].1) as u64, 86_400_000);
        let w = periods(
            ReportRange {
                from: date("2026-12-30"),
                to: date("2027-01-05"),
                period: Period::Week,
            },
            0,
        )
        .unwrap();
        // 2026-12-28 (Monday) starts ISO week 53 of 2026; 2027-01-04 starts week 1.
        assert_eq!(
            w.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["2026-W53", "2027-W01"]
        );
        let m = periods(
            ReportRange {
                from: date("2026-01-15"),
                to: date("2026-03-01"),
                period: Period::Month,
            },
            0,
        )
        .unwrap();
        assert_eq!(
            m.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["2026-01", "2026-02", "2026-03"]
        );
        assert_eq!(
            periods(
                ReportRange {
                    from: date("2026-02-01"),
                    to: date("2026-01-01"),
                    period: Period::Day
                },
                0
            ),
            Err(ReportError::EmptyRange)
        );
        assert_eq!(
            periods(
                ReportRange {
                    from: date("2020-01-01"),
                    to: date("2026-01-01"),
                    period: Period::Day
                },
                0
            ),
            Err(ReportError::TooManyPeriods)
        );
    }

    #[test]
    fn a_day_of_one_answered_and_one_abandoned_call() {
        let cfg = config();
        let (a, q) = (AgentId(1), QueueId(1));
        let events = vec![
            // Ready since the day before: the day starts with the agent available.
            ev(
                DAY0 - 3_600_000,
                EventKind::AgentStateChanged {
                    agent: a,
                    state: AgentState::Ready,
                },
            ),
            ev(
                DAY0 + 1_000,
                EventKind::Queued {
                    call: CallId(1),
                    queue: q,
                    priority: 0,
                    channel: Channel::Voice,
                },
            ),
            ev(
                DAY0 + 6_000,
                EventKind::Answered {
                    offer: OfferId(1),
                    call: CallId(1),
                    agent: a,
                    queue: q,
                    waited_ms: 5_000,
                    callback: false,
                },
            ),
            ev(
                DAY0 + 6_000,
                EventKind::AgentStateChanged {
                    agent: a,
                    state: AgentState::OnCall,
                },
            ),
            ev(
                DAY0 + 66_000,
                EventKind::AgentStateChanged {
                    agent: a,
                    state: AgentState::Ready,
                },
            ),
            ev(
                DAY0 + 66_000,
                EventKind::Completed {
                    call: CallId(1),
                    agent: a,
                    queue: q,
                    talk_ms: 60_000,
                    hold_ms: 0,
                    wrap_ms: 0,
                },
            ),
            ev(
                DAY0 + 70_000,
                EventKind::Abandoned {
                    call: CallId(2),
                    queue: q,
                    waited_ms: 30_000,
                },
            ),
        ];
        let cdr = Cdr {
            call: CallId(1),
            site: Site::new("bj-01").unwrap(),
            line: "fxo1".into(),
            outbound: false,
            number: Some("+8613800000001".into()),
            started_us: DAY0 * 1000,
            answered_us: Some((DAY0 + 6_000) * 1000),
            ended_us: (DAY0 + 66_000) * 1000,
            hangup: Hangup::Caller,
            cause: EndCause::Completed,
            ivr_path: vec![
                "hours".into(),
                "welcome".into(),
                "menu".into(),
                "general".into(),
            ],
            queue: Some(q),
            agents: vec![a],
            recording: None,
            events: Vec::<CdrEvent>::new(),
        };
        let lines = BTreeMap::from([(Site::new("bj-01").unwrap(), 4u32)]);
        let input = ReportInput {
            events: &events,
            cdrs: std::slice::from_ref(&cdr),
            config: &cfg,
            lines: &lines,
        };
        let days = build(
            &input,
            ReportRange {
                from: date("2026-11-23"),
                to: date("2026-11-23"),
                period: Period::Day,
            },
        )
        .unwrap();
        let d = &days[0];
        let general = d.queues.iter().find(|r| r.queue == q).unwrap();
        assert_eq!(
            (general.offered, general.answered, general.abandoned),
            (2, 1, 1)
        );
        assert_eq!(general.service_level_percent, Some(50.0));
        assert_eq!(general.asa_ms, Some(5_000.0));
        assert_eq!(general.aht_ms, Some(60_000.0));
        let agent = d.agents.iter().find(|r| r.agent == a).unwrap();
        assert_eq!(agent.answered, 1);
        assert_eq!(agent.handle_ms, 60_000);
        assert_eq!(agent.available_ms, 86_400_000 - 60_000);
        let bj = &d.sites[0];
        assert_eq!((bj.calls, bj.inbound, bj.answered, bj.lines), (1, 1, 1, 4));
        let occupancy = bj.trunk_occupancy_percent.unwrap();
        assert!((occupancy - 66_000.0 * 100.0 / (4.0 * 86_400_000.0)).abs() < 1e-9);
        assert_eq!(d.ivr_node_visits.get("menu"), Some(&1));
    }
}

/// Why the coordinator could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportFailure {
    /// A parameter is wrong.
    #[error(transparent)]
    Range(#[from] ReportError),
    /// No configuration is loaded (queue names, thresholds, agents).
    #[error("no center configuration is loaded")]
    NotConfigured,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A site's gateways, as [`crate::Coordinator::site_nodes`] counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteNodes {
    /// Enrolled and not revoked.
    pub nodes: u32,
    /// Of those, connected now.
    pub online: u32,
    /// Trunk lines (FXO ports and E1 timeslots) they last reported.
    pub lines: u32,
}

impl crate::Coordinator {
    /// Per site, over its gateways enrolled and not revoked: how many there are,
    /// how many are online now, and the trunk lines they last reported. Every
    /// such site is present (with 0 lines if it has none). Reports and the
    /// wallboard share it so their trunk occupancies agree. Blocking.
    pub fn site_nodes(&self) -> Result<BTreeMap<Site, SiteNodes>, crate::store::StoreError> {
        let mut sites: BTreeMap<Site, SiteNodes> = BTreeMap::new();
        for node in self
            .store()
            .nodes()?
            .iter()
            .filter(|n| n.revoked_at.is_none())
        {
            let site = sites.entry(node.site.clone()).or_default();
            site.nodes += 1;
            site.online += u32::from(self.registry().get(&node.node_id).is_some());
            site.lines += node.inventory.trunk_lines();
        }
        Ok(sites)
    }

    /// [`Self::site_nodes`]' trunk lines alone.
    pub fn trunk_lines(&self) -> Result<BTreeMap<Site, u32>, crate::store::StoreError> {
        Ok(self
            .site_nodes()?
            .into_iter()
            .map(|(site, n)| (site, n.lines))
            .collect())
    }

    /// The report for `range`, from everything stored: the coordinator's routing
    /// events, the events gateways routed alone and uploaded, and the CDRs of
    /// calls that held a line during the range's periods. Blocking (reads the
    /// store).
    pub fn report(&self, range: ReportRange) -> Result<Vec<PeriodReport>, ReportFailure> {
        let config = self.routing_config().ok_or(ReportFailure::NotConfigured)?;
        let store = self.store();
        let mut events: Vec<Event> = store.queue_events()?.into_iter().map(|q| q.event).collect();
        let (local, bad) = store.local_queue_events()?;
        if bad > 0 {
            tracing::warn!(bad, "some uploaded queue events could not be decoded");
        }
        events.extend(local);
        events.sort_by_key(|e| e.at);
        let lines = self.trunk_lines()?;
        let (start_ms, end_ms) = window_ms(range, config.utc_offset_minutes)?;
        let cdrs = store.cdrs_overlapping(epoch_us(start_ms)..epoch_us(end_ms))?;
        let input = ReportInput {
            events: &events,
            cdrs: &cdrs,
            config: &config,
            lines: &lines,
        };
        Ok(build(&input, range)?)
    }
}
