//! Reports for administrators and duty managers: per day, week or month, per
//! queue, agent and site — offered, answered, abandoned, service level, ASA, AHT,
//! answer rate, occupancy, trunk occupancy and IVR node visits.
//!
//! Pure: computed from the routing events (the coordinator's own and those a
//! gateway's local router recorded while the WAN was down), the CDRs and the
//! configuration, with the KPI definitions of [`tandem_node::routing::KpiReport`]
//! (applied to a window by [`kpis_between`]), so a report, the live wallboard and
//! an agent's own figures mean the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tandem_node::calls::Cdr;
use tandem_node::ivr::CivilDate;
use tandem_node::names::Site;
use tandem_node::routing::{
    AgentId, AgentKpis, AgentState, Event, EventKind, KpiReport, QueueId, QueueKpis, RoutingConfig,
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
    /// Answered ÷ offered, percent.
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
    /// Contacts the agent answered from a queue (callbacks excluded), as
    /// queues count them.
    pub answered: u64,
    /// Mean handle time of the contacts the agent completed.
    pub aht_ms: Option<f64>,
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
    /// Unix ms now: agents' time is counted up to now, not to the end of a
    /// period still running.
    pub now_ms: u64,
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
        offered: k.offered(),
        answered: k.answered,
        abandoned: k.abandoned,
        service_level_percent: percent(k.service_level()),
        asa_ms: k.asa_ms(),
        aht_ms: k.aht_ms(),
        answer_rate_percent: percent(k.answer_rate()),
        abandonment_percent: percent(k.abandonment_rate()),
    }
}

/// The KPIs of the window `start_ms..end_ms` (Unix ms) of `events` (in time
/// order), agents' time counted up to `now_ms` if the window is still running:
/// the one way reports, the wallboard and agents' own figures cut a window.
/// Agents keep the state they had when the window began.
pub fn kpis_between(
    events: &[Event],
    config: &RoutingConfig,
    start_ms: u64,
    end_ms: u64,
    now_ms: u64,
) -> KpiReport {
    let mut state_at_start: BTreeMap<AgentId, AgentState> = BTreeMap::new();
    let mut window = Vec::new();
    for e in events {
        if e.at.0 < start_ms {
            if let EventKind::AgentStateChanged { agent, state } = &e.kind {
                state_at_start.insert(*agent, state.clone());
            }
        } else if e.at.0 < end_ms {
            window.push(e.clone());
        }
    }
    // Never before the window's last event, should a clock lag the events.
    let last = window.last().map_or(start_ms, |e| e.at.0);
    let until = end_ms.min(now_ms.max(last));
    let mut in_window: Vec<Event> = state_at_start
        .into_iter()
        .map(|(agent, state)| Event {
            at: Timestamp(start_ms),
            kind: EventKind::AgentStateChanged { agent, state },
        })
        .collect();
    in_window.extend(window);
    KpiReport::from_events(&in_window, config, Timestamp(until))
}

fn period(input: &ReportInput<'_>, label: String, start: i64, end: i64) -> PeriodReport {
    let (start_ms, end_ms) = (start.max(0) as u64, end.max(0) as u64);
    let kpis = kpis_between(input.events, input.config, start_ms, end_ms, input.now_ms);

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
    let mut ivr_node_visits = BTreeMap::new();
    for c in &in_period {
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
                answered: k.answered,
                aht_ms: k.aht_ms(),
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

    fn state(at: u64, agent: u32, state: AgentState) -> Event {
        ev(
            at,
            EventKind::AgentStateChanged {
                agent: AgentId(agent),
                state,
            },
        )
    }

    fn queued(at: u64, call: u64) -> Event {
        ev(
            at,
            EventKind::Queued {
                call: CallId(call),
                queue: QueueId(1),
                priority: 0,
                channel: Channel::Voice,
            },
        )
    }

    fn answered(at: u64, call: u64, agent: u32, waited_ms: u64, callback: bool) -> Event {
        ev(
            at,
            EventKind::Answered {
                offer: OfferId(call),
                call: CallId(call),
                agent: AgentId(agent),
                queue: QueueId(1),
                waited_ms,
                callback,
            },
        )
    }

    fn completed(
        at: u64,
        call: u64,
        agent: u32,
        talk_ms: u64,
        hold_ms: u64,
        wrap_ms: u64,
    ) -> Event {
        ev(
            at,
            EventKind::Completed {
                call: CallId(call),
                agent: AgentId(agent),
                queue: QueueId(1),
                talk_ms,
                hold_ms,
                wrap_ms,
            },
        )
    }

    /// A hand-written event log of queue 1 (service level 80/20 s), seconds
    /// after DAY0:
    ///
    /// | call | what happens                                                        |
    /// |------|---------------------------------------------------------------------|
    /// | 1    | queued 1, agent 1 answers 6 (waited 5), talk 50 + hold 10, done 66  |
    /// | 2    | queued 10, agent 2 rejects 12, answers 40 (waited 30), talk 60, wrap-up 10, done 110 |
    /// | 3    | queued 20, abandons 25 (waited 5: within 20 s, still a failure)     |
    /// | 4    | queued 30, asks for a callback 35; agent 1 calls back 70–100        |
    /// | 5    | queued 50, handed back to its branch's router at 60 (counted there) |
    ///
    /// Agent 1 is ready since the day before; agent 2 gets ready at 0 and goes
    /// not ready at 110. "Now" is 200 s into the day.
    fn hand_log() -> Vec<Event> {
        let s = |x: u64| DAY0 + x * 1000;
        vec![
            state(DAY0 - 3_600_000, 1, AgentState::Ready),
            state(s(0), 2, AgentState::Ready),
            queued(s(1), 1),
            answered(s(6), 1, 1, 5_000, false),
            state(s(6), 1, AgentState::OnCall),
            queued(s(10), 2),
            ev(
                s(12),
                EventKind::OfferEnded {
                    offer: OfferId(20),
                    call: CallId(2),
                    agent: AgentId(2),
                    how: tandem_node::routing::OfferEnd::Rejected,
                },
            ),
            queued(s(20), 3),
            ev(
                s(25),
                EventKind::Abandoned {
                    call: CallId(3),
                    queue: QueueId(1),
                    waited_ms: 5_000,
                },
            ),
            queued(s(30), 4),
            ev(
                s(35),
                EventKind::CallbackRequested {
                    call: CallId(4),
                    queue: QueueId(1),
                },
            ),
            answered(s(40), 2, 2, 30_000, false),
            state(s(40), 2, AgentState::OnCall),
            queued(s(50), 5),
            ev(
                s(60),
                EventKind::Withdrawn {
                    call: CallId(5),
                    queue: QueueId(1),
                },
            ),
            completed(s(66), 1, 1, 50_000, 10_000, 0),
            state(s(66), 1, AgentState::Ready),
            answered(s(70), 4, 1, 40_000, true),
            state(s(70), 1, AgentState::OnCall),
            state(s(100), 1, AgentState::Ready),
            completed(s(100), 4, 1, 30_000, 0, 0),
            state(s(100), 2, AgentState::WrapUp),
            completed(s(110), 2, 2, 60_000, 0, 10_000),
            state(s(110), 2, AgentState::NotReady("lunch".into())),
        ]
    }

    const NOW: u64 = DAY0 + 200_000;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// Every KPI of [`hand_log`], computed by hand from the written
    /// definitions, in the report, the agents' own figures and the wallboard.
    #[test]
    fn every_kpi_of_a_hand_written_log_in_reports_agents_and_wallboard() {
        let cfg = config();
        let events = hand_log();
        let lines = BTreeMap::new();
        let input = ReportInput {
            events: &events,
            cdrs: &[],
            config: &cfg,
            lines: &lines,
            now_ms: NOW,
        };
        let range = ReportRange {
            from: date("2026-11-23"),
            to: date("2026-11-23"),
            period: Period::Day,
        };
        let day = build(&input, range).unwrap().remove(0);
        let q = day.queues.iter().find(|r| r.queue == QueueId(1)).unwrap();
        // Offered: answered (calls 1, 2) + abandoned (call 3); the callback and
        // the call handed back are neither.
        assert_eq!((q.offered, q.answered, q.abandoned), (3, 2, 1));
        assert!(close(q.answer_rate_percent, 200.0 / 3.0), "{q:?}");
        assert!(close(q.abandonment_percent, 100.0 / 3.0), "{q:?}");
        // Within 20 s: call 1 only, of 3 offered.
        assert!(close(q.service_level_percent, 100.0 / 3.0), "{q:?}");
        assert!(close(q.asa_ms, (5_000.0 + 30_000.0) / 2.0), "{q:?}");
        // Completed: call 1 (60 s), call 4, the callback (30 s), call 2 (70 s).
        assert!(
            close(q.aht_ms, (60_000.0 + 30_000.0 + 70_000.0) / 3.0),
            "{q:?}"
        );
        assert_eq!(day.totals.offered, 3);

        // Agent 1: available 0–6, 66–70, 100–200 (110 s); handling 6–66 and
        // 70–100 (90 s); counted up to now, not to the end of the day.
        let a1 = day.agents.iter().find(|r| r.agent == AgentId(1)).unwrap();
        assert_eq!((a1.handle_ms, a1.available_ms), (90_000, 110_000));
        assert!(close(a1.occupancy_percent, 45.0), "{a1:?}");
        assert_eq!(a1.answered, 1, "the callback is not an answered contact");
        assert!(close(a1.aht_ms, 45_000.0), "{a1:?}");
        // Agent 2: available 0–40; handling 40–110; not ready afterwards.
        let a2 = day.agents.iter().find(|r| r.agent == AgentId(2)).unwrap();
        assert_eq!((a2.handle_ms, a2.available_ms), (70_000, 40_000));
        assert!(close(a2.occupancy_percent, 70.0 * 100.0 / 110.0), "{a2:?}");
        assert_eq!(a2.answered, 1);
        // The same figures a minute later differ only by the minute agent 1
        // was ready: occupancy does not jump with the instant of the query.
        let later = build(
            &ReportInput {
                now_ms: NOW + 60_000,
                ..input
            },
            range,
        )
        .unwrap()
        .remove(0);
        let a1_later = later.agents.iter().find(|r| r.agent == AgentId(1)).unwrap();
        assert_eq!(a1_later.available_ms, 170_000);

        // The agent's own figures: the same window, the same numbers.
        let own = kpis_between(&events, &cfg, DAY0, NOW, NOW);
        let own1 = &own.agents[&AgentId(1)];
        assert_eq!(
            (own1.answered, own1.handle_ms, own1.available_ms),
            (1, 90_000, 110_000)
        );
        assert!(close(own1.aht_ms(), 45_000.0));

        // The wallboard, fed the same events, shows the same queue figures.
        let valid =
            ValidCenterConfig::from_toml(include_str!("../../center-configs/demo.toml")).unwrap();
        let mut cc = crate::calls::CallControl::new(valid, 1, Timestamp(DAY0)).unwrap();
        cc.record_local_events(&events);
        let board = cc.summary(Timestamp(NOW), &lines);
        let b = board.queues.iter().find(|r| r.queue == QueueId(1)).unwrap();
        assert_eq!((b.offered, b.answered, b.abandoned), (3, 2, 1));
        assert_eq!(b.service_level_percent, q.service_level_percent);
        assert_eq!(b.asa_ms, q.asa_ms);
        assert_eq!(board.totals.offered, day.totals.offered);
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
            now_ms: DAY0 + 2 * 86_400_000,
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

    /// Every stored routing event in time order: the coordinator's own and
    /// those gateways routed alone and uploaded. Blocking.
    fn routing_events(&self) -> Result<Vec<Event>, crate::store::StoreError> {
        let store = self.store();
        let mut events: Vec<Event> = store.queue_events()?.into_iter().map(|q| q.event).collect();
        let (local, bad) = store.local_queue_events()?;
        if bad > 0 {
            tracing::warn!(bad, "some uploaded queue events could not be decoded");
        }
        events.extend(local);
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    /// `agent`'s figures from `start_ms` to `now_ms` (Unix ms), by the
    /// definitions reports use. Blocking (reads the store).
    pub fn agent_kpis(
        &self,
        agent: AgentId,
        start_ms: u64,
        now_ms: u64,
    ) -> Result<AgentKpis, ReportFailure> {
        let config = self.routing_config().ok_or(ReportFailure::NotConfigured)?;
        let events = self.routing_events()?;
        let mut kpis = kpis_between(&events, &config, start_ms, now_ms, now_ms);
        Ok(kpis.agents.remove(&agent).unwrap_or_default())
    }

    /// The report for `range` as of `now_ms` (Unix ms), from everything stored:
    /// the routing events and the CDRs of calls that held a line during the
    /// range's periods. Blocking (reads the store).
    pub fn report(
        &self,
        range: ReportRange,
        now_ms: u64,
    ) -> Result<Vec<PeriodReport>, ReportFailure> {
        let config = self.routing_config().ok_or(ReportFailure::NotConfigured)?;
        let store = self.store();
        let events = self.routing_events()?;
        let lines = self.trunk_lines()?;
        let (start_ms, end_ms) = window_ms(range, config.utc_offset_minutes)?;
        let cdrs = store.cdrs_overlapping(epoch_us(start_ms)..epoch_us(end_ms))?;
        let input = ReportInput {
            events: &events,
            cdrs: &cdrs,
            config: &config,
            lines: &lines,
            now_ms,
        };
        Ok(build(&input, range)?)
    }
}
