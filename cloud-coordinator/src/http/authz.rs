//! Who may do what: the one table every endpoint goes through.
//!
//! Each route is registered with an [`Action`]; the route's middleware resolves
//! the session, looks the role up in [`RULES`] and hands the handler a
//! [`Granted`] carrying the [`Scope`]. Handlers acting on an agent check the
//! target with [`Granted::covers`].

use super::{Api, ApiError};
use crate::accounts::{Account, Role};
use tandem_node::routing::AgentId;

/// How far a role reaches for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Not at all: 403.
    None,
    /// Only the agent the account works as.
    Own,
    /// Their own agent and the members of the groups they lead.
    Team,
    /// Everyone.
    All,
}

/// Everything an authenticated request can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Me,
    Logout,
    ListNodes,
    CreateToken,
    RevokeNode,
    ViewAgent,
    /// Desk commands (ready, answer, transfer…) executed as the agent in the path.
    CommandAgent,
    /// Monitor, whisper, barge, force-release of the agent named in the command.
    Supervise,
    ReadConfig,
    WriteConfig,
    Wallboard,
    ExportCdrs,
    /// Earlier calls of a number (the screen pop): agents and team leads only
    /// for the caller of their own current call.
    CallerHistory,
    Events,
    ListAccounts,
    WriteAccounts,
    /// Reports per day, week or month.
    Reports,
}

use Scope::{All, None as No, Own, Team};

/// Role × action. Columns: agent, team lead, duty manager, admin.
pub const RULES: &[(Action, [Scope; 4])] = &[
    (Action::Me, [All, All, All, All]),
    (Action::Logout, [All, All, All, All]),
    (Action::ListNodes, [No, No, All, All]),
    (Action::CreateToken, [No, No, No, All]),
    (Action::RevokeNode, [No, No, No, All]),
    (Action::ViewAgent, [Own, Team, All, All]),
    (Action::CommandAgent, [Own, Own, Own, All]),
    (Action::Supervise, [No, Team, All, All]),
    (Action::ReadConfig, [No, No, All, All]),
    (Action::WriteConfig, [No, No, No, All]),
    (Action::Wallboard, [No, All, All, All]),
    (Action::ExportCdrs, [No, Team, All, All]),
    (Action::CallerHistory, [Own, Own, All, All]),
    (Action::Events, [Own, Team, All, All]),
    (Action::ListAccounts, [No, No, No, All]),
    (Action::WriteAccounts, [No, No, No, All]),
    (Action::Reports, [No, No, All, All]),
];

/// The scope `role` has for `action`.
pub fn scope(role: Role, action: Action) -> Scope {
    let column = match role {
        Role::Agent => 0,
        Role::TeamLead => 1,
        Role::DutyManager => 2,
        Role::Admin => 3,
    };
    RULES
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(Scope::None, |(_, scopes)| scopes[column])
}

/// An authenticated, authorized request.
#[derive(Debug, Clone)]
pub struct Granted {
    pub account: Account,
    pub scope: Scope,
    /// The session token (for logout).
    pub token: String,
}

impl Granted {
    /// Whether this request may act on `agent`. Team membership comes from the
    /// call desk's configuration.
    pub fn covers(&self, api: &Api, agent: AgentId) -> bool {
        let own = self.account.agent == Some(agent);
        match self.scope {
            Scope::All => true,
            Scope::Own => own,
            Scope::Team => {
                own || api
                    .desk()
                    .agent_groups(agent)
                    .iter()
                    .any(|g| self.account.groups.contains(g))
            }
            Scope::None => false,
        }
    }

    /// [`Self::covers`] as a 403.
    pub fn require(&self, api: &Api, agent: AgentId, action: Action) -> Result<(), ApiError> {
        let scope = scope(self.account.role, action);
        let granted = Granted {
            scope,
            ..self.clone()
        };
        if granted.covers(api, agent) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} may not do this for agent {agent}",
                self.account.role
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_exactly_one_rule_and_admins_may_do_everything() {
        for (i, (a, scopes)) in RULES.iter().enumerate() {
            assert!(RULES[i + 1..].iter().all(|(b, _)| b != a), "{a:?} twice");
            assert_eq!(scopes[3], Scope::All, "{a:?}");
        }
    }
}
