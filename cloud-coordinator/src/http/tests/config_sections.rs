//! The admin forms' API (`/api/v1/config/{section}[/{key}]`) against the
//! coordinator's real call control: what a form saves is what the coordinator
//! routes with, and a refused change leaves the configuration untouched.

use super::*;
use serde_json::{Value, json};

struct Admin {
    h: Harness,
    token: String,
}

impl Admin {
    fn new() -> Self {
        let h = Harness::new().with_real_desk();
        let token = h.token(Role::Admin);
        Admin { h, token }
    }

    async fn call(&self, method: &str, path: &str, body: &Value) -> Reply {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.h
            .call(
                method,
                &format!("/api/v1/config/{path}"),
                Some(&self.token),
                &body,
            )
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.call("GET", path, &Value::Null).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
        r.json()
    }

    fn version(&self) -> u64 {
        self.h.coordinator.config_version().unwrap()
    }

    /// A refusal with `status` naming `field`, after which nothing changed.
    async fn refused(
        &self,
        method: &str,
        path: &str,
        body: Value,
        status: StatusCode,
        field: &str,
    ) {
        let before = self.h.coordinator.center_config().unwrap();
        let r = self.call(method, path, &body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{}", r.body);
        assert_eq!(r.field(), field, "{method} {path}: {}", r.body);
        assert_eq!(self.h.coordinator.center_config().unwrap(), before);
    }
}

fn group_members(config: &CenterConfig, group: u32) -> Vec<u32> {
    let group = config
        .routing
        .groups
        .iter()
        .find(|g| g.id == GroupId(group))
        .unwrap();
    group.members.iter().map(|m| m.agent.0).collect()
}

#[tokio::test]
async fn an_agent_form_creates_edits_and_deletes_an_agent_with_seat_supervision_and_skills() {
    let a = Admin::new();
    let agents = a.get("agents").await;
    let lead = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["agent"]["id"] == 5)
        .unwrap();
    assert_eq!(
        lead["seat"],
        json!({ "site": "sh-01", "endpoint": "seat2" })
    );
    assert_eq!(lead["supervisor"]["role"], "team-lead");
    assert_eq!(lead["memberships"][0]["group"], 1);

    let v0 = a.version();
    let new_agent = json!({
        "agent": { "id": 11, "name": "Zhou Xin", "site": { "Branch": "sh-01" } },
        "seat": { "site": "sh-01", "endpoint": "fxs1" },
        "memberships": [{ "group": 1 }, { "group": 2, "proficiency": 5 }],
    });
    let r = a
        .call("PUT", &format!("agents/11?version={v0}"), &new_agent)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["version"], v0 + 1);
    let (_, config) = a.h.coordinator.center_config().unwrap();
    assert!(group_members(&config, 1).contains(&11));
    assert!(group_members(&config, 2).contains(&11));
    let valid = ValidCenterConfig::validate(config).unwrap();
    assert_eq!(valid.seat_of(AgentId(11)).unwrap().endpoint, "fxs1");
    let shown = a.get("agents/11").await;
    assert_eq!(shown["item"]["memberships"][1]["proficiency"], 5);
    assert_eq!(shown["item"]["memberships"][0]["proficiency"], 3);

    // The same form again, without the card skill: left group 2 only.
    let mut edited = new_agent.clone();
    edited["memberships"] = json!([{ "group": 1, "priority": 2 }]);
    edited["agent"]["name"] = json!("Zhou Xin (trainee)");
    let r = a.call("PUT", "agents/11", &edited).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, config) = a.h.coordinator.center_config().unwrap();
    assert!(group_members(&config, 1).contains(&11));
    assert!(!group_members(&config, 2).contains(&11));
    let names: Vec<_> = config.routing.agents.iter().map(|a| &a.name).collect();
    assert!(names.contains(&&"Zhou Xin (trainee)".to_owned()));

    // Deleting takes the seat and every membership along.
    let r = a.call("DELETE", "agents/11", &Value::Null).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, config) = a.h.coordinator.center_config().unwrap();
    assert!(!config.routing.agents.iter().any(|x| x.id == AgentId(11)));
    assert!(!group_members(&config, 1).contains(&11));
    assert!(!config.seats.iter().any(|s| s.agent == AgentId(11)));
    let r = a.call("GET", "agents/11", &Value::Null).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_forms_are_refused_naming_the_field_and_nothing_is_applied() {
    use StatusCode as S;
    let a = Admin::new();
    let agent = |id: u32| json!({ "agent": { "id": id, "name": "X" } });
    let unprocessable = S::UNPROCESSABLE_ENTITY;
    // Item shape.
    a.refused(
        "PUT",
        "agents/12",
        json!({ "agent": { "id": 12, "name": 5 } }),
        unprocessable,
        "agent.name",
    )
    .await;
    a.refused(
        "PUT",
        "agents/12",
        json!({ "agent": { "id": 12 } }),
        unprocessable,
        "agent.name",
    )
    .await;
    a.refused("PUT", "agents/12", agent(13), unprocessable, "agent.id")
        .await;
    a.refused("PUT", "agents/twelve", agent(12), unprocessable, "id")
        .await;
    let mut skills = agent(12);
    skills["memberships"] = json!([{ "group": 1 }, { "group": 77 }]);
    a.refused(
        "PUT",
        "agents/12",
        skills,
        unprocessable,
        "memberships[1].group",
    )
    .await;
    // Cross-checks over the whole configuration.
    let mut taken = agent(12);
    taken["seat"] = json!({ "site": "bj-01", "endpoint": "seat1" });
    a.refused(
        "PUT",
        "agents/12",
        taken,
        unprocessable,
        "seats[10].endpoint",
    )
    .await;
    // Queue 3 targets the expert pool; queue 2 is named by the branch IVR.
    a.refused(
        "DELETE",
        "groups/3",
        Value::Null,
        unprocessable,
        "routing.queues[3].targets",
    )
    .await;
    a.refused(
        "DELETE",
        "queues/2",
        Value::Null,
        unprocessable,
        "ivr.flows.branch.nodes.cards.queue",
    )
    .await;
    a.refused(
        "DELETE",
        "flows/branch",
        Value::Null,
        unprocessable,
        "sites[0].flow",
    )
    .await;
    let mut hours = a.get("calendars/always").await["item"].clone();
    hours["weekly"]["mon"] = json!(["18:00-09:00"]);
    a.refused(
        "PUT",
        "calendars/always",
        hours,
        unprocessable,
        "weekly.mon[0]",
    )
    .await;
    let mut flow = a.get("flows/branch").await["item"].clone();
    flow["start"] = json!("nowhere");
    a.refused("PUT", "flows/branch", flow, unprocessable, "ivr")
        .await;
    a.refused("PUT", "flows/a%20b", json!({}), unprocessable, "name")
        .await;
    let mut queue = a.get("queues/1").await["item"].clone();
    queue["business_hours"] = json!("holidays");
    a.refused(
        "PUT",
        "queues/1",
        queue,
        unprocessable,
        "routing.queues[0].business_hours",
    )
    .await;
    a.refused(
        "PUT",
        "sites/sh-01",
        json!({ "site": "bj-01", "flow": "branch" }),
        unprocessable,
        "site",
    )
    .await;
    a.refused(
        "PUT",
        "blacklist",
        json!([{ "pattern": { "Prefix": "12a" }, "action": "Reject" }]),
        unprocessable,
        "routing.blacklist[0].pattern",
    )
    .await;
    // Someone else saved in between: 409, not a silent overwrite.
    let stale = a.version() - 1;
    a.refused(
        "PUT",
        &format!("agents/12?version={stale}"),
        agent(12),
        S::CONFLICT,
        "",
    )
    .await;
    a.refused(
        "PUT",
        "agents/12?version=x",
        agent(12),
        unprocessable,
        "version",
    )
    .await;
    // Wrong section or method for it.
    a.refused("GET", "phones", Value::Null, S::NOT_FOUND, "")
        .await;
    a.refused("PUT", "queues", json!([]), S::METHOD_NOT_ALLOWED, "")
        .await;
    a.refused("DELETE", "blacklist/0", Value::Null, S::NOT_FOUND, "")
        .await;
    a.refused("DELETE", "agents/99", Value::Null, S::NOT_FOUND, "")
        .await;
    a.refused(
        "PUT",
        "agents/12",
        json!("not an agent"),
        unprocessable,
        "body",
    )
    .await;
}

#[tokio::test]
async fn groups_queues_hours_sites_and_lists_are_saved_and_pushed() {
    let a = Admin::new();
    let v0 = a.version();
    let r = a
        .call(
            "PUT",
            "groups/4",
            &json!({ "id": 4, "name": "Mandarin", "kind": "Skill",
                     "members": [{ "agent": 1, "proficiency": 4 }, { "agent": 8 }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut queue = a.get("queues/2").await["item"].clone();
    queue["id"] = json!(4);
    queue["name"] = json!("Mandarin line");
    queue["targets"] = json!([{ "group": 4 }, { "group": 1, "after_ms": 30000 }]);
    queue["business_hours"] = json!("office");
    let r = a.call("PUT", "queues/4", &queue).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no calendar yet"
    );
    let office = json!({ "utc_offset_minutes": 480,
        "weekly": { "mon": ["09:00-12:00", "13:00-18:00"], "sat": ["10:00-14:00"] },
        "holidays": ["2026-10-01"] });
    let r = a.call("PUT", "calendars/office", &office).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = a.call("PUT", "queues/4", &queue).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = a
        .call(
            "PUT",
            "sites/gz-01",
            &json!({ "site": "gz-01", "flow": "branch", "record": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = a
        .call(
            "PUT",
            "blacklist",
            &json!([{ "pattern": { "Exact": "+8613800000000" }, "action": { "RouteTo": 4 } }]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["version"], v0 + 5);

    // What the coordinator now routes with, and pushes to every gateway.
    let (version, config) = a.h.coordinator.center_config().unwrap();
    assert_eq!(version, v0 + 5);
    assert_eq!(a.h.coordinator.config_push().unwrap().version, version);
    assert_eq!(config.routing.queues.last().unwrap().name, "Mandarin line");
    assert_eq!(config.ivr.calendars["office"].weekly.mon.len(), 2);
    assert_eq!(config.routing.blacklist.len(), 1);
    assert!(
        config
            .sites
            .iter()
            .any(|s| s.site.as_str() == "gz-01" && s.record)
    );
    let hours = a.get("calendars").await;
    assert_eq!(hours["items"]["office"]["weekly"]["mon"][1], "13:00-18:00");
    assert_eq!(hours["items"]["office"]["holidays"][0], "2026-10-01");

    // The whole file as TOML still round-trips.
    let r = a.h.call("GET", "/api/v1/config", Some(&a.token), "").await;
    let back = ValidCenterConfig::from_toml(&r.body).unwrap();
    assert_eq!(back.config(), &config);

    // A group still targeted by a queue stays; once the queue goes, it may go.
    let r = a.call("DELETE", "groups/4", &Value::Null).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = a.call("PUT", "blacklist", &json!([])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for path in ["queues/4", "groups/4", "calendars/office"] {
        let r = a.call("DELETE", path, &Value::Null).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
}
