//! People who use the operator surfaces: accounts with argon2id password hashes,
//! roles, and login sessions. Both live in the coordinator's redb; a session
//! token is shown once, at login, and only its SHA-256 is stored.

use crate::Coordinator;
use crate::store::{Store, StoreError};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tandem_node::record;
use tandem_node::routing::{AgentId, GroupId};
use tandem_node_io::storage::read_table;

const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
const ACCOUNT_RECORD_VERSION: u8 = 1;
const SESSION_RECORD_VERSION: u8 = 1;

/// A session's last use is written at most this often (reads stay reads).
const SESSION_TOUCH_SECS: u64 = 60;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// What a person may do; see [`crate::http::authz`] for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Their own desk only.
    Agent,
    /// Their own desk and the agents of the groups they lead.
    TeamLead,
    /// Everyone's calls and the wallboard.
    DutyManager,
    /// Everything, including nodes, configuration and accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::TeamLead, Role::DutyManager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::TeamLead => "team_lead",
            Role::DutyManager => "duty_manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?} (agent, team_lead, duty_manager, admin)"))
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub role: Role,
    /// The agent this person works as (required for agents and team leads).
    pub agent: Option<AgentId>,
    /// The groups a team lead leads.
    pub groups: Vec<GroupId>,
    /// PHC string, argon2id.
    pub password_hash: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// An account as shown: never the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub username: String,
    pub role: Role,
    pub agent: Option<AgentId>,
    pub groups: Vec<GroupId>,
    pub created_at: u64,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            username: a.username.clone(),
            role: a.role,
            agent: a.agent,
            groups: a.groups.clone(),
            created_at: a.created_at,
        }
    }
}

/// What an administrator asks for when creating or replacing an account. On
/// update, a missing password keeps the old one. Its `Debug` hides the password
/// (admin requests are logged).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    pub role: Role,
    #[serde(default)]
    pub agent: Option<AgentId>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("role", &self.role)
            .field("agent", &self.agent)
            .field("groups", &self.groups)
            .finish()
    }
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("account {0} already exists")]
    Exists(String),
    #[error("no account {0}")]
    Unknown(String),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

tandem_node_io::redb_errors_into!(AccountError, |e| AccountError::Store(StoreError::Db(
    e.into()
)));

fn invalid(field: &'static str, problem: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        problem: problem.into(),
    }
}

impl AccountSpec {
    /// Checks every field before anything is written.
    pub fn validate(&self, creating: bool) -> Result<(), AccountError> {
        let name_ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if self.username.is_empty() || self.username.len() > 64 {
            return Err(invalid("username", "must be 1 to 64 characters"));
        }
        if !self.username.chars().all(name_ok) {
            return Err(invalid(
                "username",
                "only letters, digits, '.', '_' and '-' are allowed",
            ));
        }
        match &self.password {
            None if creating => return Err(invalid("password", "is required")),
            Some(p) if p.chars().count() < MIN_PASSWORD => {
                return Err(invalid(
                    "password",
                    format!("must be at least {MIN_PASSWORD} characters"),
                ));
            }
            _ => {}
        }
        if matches!(self.role, Role::Agent | Role::TeamLead) && self.agent.is_none() {
            return Err(invalid(
                "agent",
                format!("a {} account must name its agent", self.role),
            ));
        }
        if self.role == Role::TeamLead && self.groups.is_empty() {
            return Err(invalid(
                "groups",
                "a team lead must lead at least one group",
            ));
        }
        if self.role != Role::TeamLead && !self.groups.is_empty() {
            return Err(invalid("groups", "only team leads have groups"));
        }
        Ok(())
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that an unknown
/// name takes as long to refuse as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password at all").unwrap_or_default())
}

/// A login session as stored, under the SHA-256 of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SessionRecord {
    username: String,
    created_at: u64,
    last_used: u64,
}

fn token_hash(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A new random secret: 32 bytes, hex.
pub fn new_token() -> String {
    hex::encode(rand::rng().random::<[u8; 32]>())
}

impl Store {
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = read_table(&tx, ACCOUNTS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(record::decode(ACCOUNT_RECORD_VERSION, entry?.1.value())?);
        }
        Ok(out)
    }

    pub fn account(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let tx = self.db().begin_read()?;
        let Some(table) = read_table(&tx, ACCOUNTS)? else {
            return Ok(None);
        };
        let found = table.get(username)?;
        Ok(match found {
            Some(v) => Some(record::decode(ACCOUNT_RECORD_VERSION, v.value())?),
            None => None,
        })
    }

    /// Creates (`creating`) or replaces an account, validated first and written
    /// in one transaction. Replacing ends the account's sessions if its role,
    /// agent, groups or password changed.
    pub fn put_account(
        &self,
        spec: &AccountSpec,
        creating: bool,
        now: u64,
    ) -> Result<Account, AccountError> {
        spec.validate(creating)?;
        let new_hash = spec.password.as_deref().map(hash_password).transpose()?;
        let tx = self.db().begin_write()?;
        let account = {
            let mut table = tx.open_table(ACCOUNTS)?;
            let old = table
                .get(spec.username.as_str())?
                .map(|v| record::decode::<Account>(ACCOUNT_RECORD_VERSION, v.value()))
                .transpose()
                .map_err(StoreError::from)?;
            let (password_hash, created_at) = match (&old, creating, new_hash) {
                (Some(_), true, _) => return Err(AccountError::Exists(spec.username.clone())),
                (None, false, _) => return Err(AccountError::Unknown(spec.username.clone())),
                (_, _, Some(hash)) => (hash, old.as_ref().map_or(now, |o| o.created_at)),
                (Some(o), false, None) => (o.password_hash.clone(), o.created_at),
                (None, true, None) => return Err(invalid("password", "is required")),
            };
            let account = Account {
                username: spec.username.clone(),
                role: spec.role,
                agent: spec.agent,
                groups: spec.groups.clone(),
                password_hash,
                created_at,
            };
            table.insert(
                account.username.as_str(),
                record::encode(ACCOUNT_RECORD_VERSION, &account).as_slice(),
            )?;
            if old.is_some_and(|o| o != account) {
                end_sessions_of(&tx, &account.username)?;
            }
            account
        };
        tx.commit().map_err(StoreError::from)?;
        Ok(account)
    }

    /// Deletes an account and its sessions.
    pub fn delete_account(&self, username: &str) -> Result<(), AccountError> {
        let tx = self.db().begin_write()?;
        let removed = tx.open_table(ACCOUNTS)?.remove(username)?.is_some();
        if !removed {
            return Err(AccountError::Unknown(username.to_owned()));
        }
        end_sessions_of(&tx, username)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(())
    }

    /// Starts a session for `username`; returns its token.
    pub fn create_session(&self, username: &str, now: u64) -> Result<String, StoreError> {
        let token = new_token();
        let rec = SessionRecord {
            username: username.to_owned(),
            created_at: now,
            last_used: now,
        };
        let tx = self.db().begin_write()?;
        tx.open_table(SESSIONS)?.insert(
            token_hash(&token).as_slice(),
            record::encode(SESSION_RECORD_VERSION, &rec).as_slice(),
        )?;
        tx.commit()?;
        Ok(token)
    }

    /// The account behind `token`, if the session exists and was used within
    /// `idle_secs`; this use restarts the idle clock. An idle session is deleted.
    pub fn session(
        &self,
        token: &str,
        now: u64,
        idle_secs: u64,
    ) -> Result<Option<Account>, StoreError> {
        let Some((rec, account)) = self.live_session(token, now, idle_secs)? else {
            return Ok(None);
        };
        if now.saturating_sub(rec.last_used) >= SESSION_TOUCH_SECS {
            let touched = SessionRecord {
                last_used: now,
                ..rec
            };
            let tx = self.db().begin_write()?;
            tx.open_table(SESSIONS)?.insert(
                token_hash(token).as_slice(),
                record::encode(SESSION_RECORD_VERSION, &touched).as_slice(),
            )?;
            tx.commit()?;
        }
        Ok(Some(account))
    }

    /// Whether the session of `token` is still live, without counting as a use:
    /// an open event stream checks its session this way, so that it ends at
    /// logout or expiry instead of keeping the session alive by itself.
    pub fn session_live(&self, token: &str, now: u64, idle_secs: u64) -> Result<bool, StoreError> {
        Ok(self.live_session(token, now, idle_secs)?.is_some())
    }

    /// The session record and account behind `token`, if used within
    /// `idle_secs` and the account still exists; otherwise the session is
    /// deleted (if there was one).
    fn live_session(
        &self,
        token: &str,
        now: u64,
        idle_secs: u64,
    ) -> Result<Option<(SessionRecord, Account)>, StoreError> {
        let rec: SessionRecord = {
            let tx = self.db().begin_read()?;
            let Some(table) = read_table(&tx, SESSIONS)? else {
                return Ok(None);
            };
            let found = table.get(token_hash(token).as_slice())?;
            match found {
                Some(v) => record::decode(SESSION_RECORD_VERSION, v.value())?,
                None => return Ok(None),
            }
        };
        if now.saturating_sub(rec.last_used) > idle_secs {
            self.end_session(token)?;
            return Ok(None);
        }
        let Some(account) = self.account(&rec.username)? else {
            self.end_session(token)?;
            return Ok(None);
        };
        Ok(Some((rec, account)))
    }

    /// Deletes every session idle for more than `idle_secs` (run at each login,
    /// so abandoned sessions do not pile up). Returns how many went.
    pub fn sweep_sessions(&self, now: u64, idle_secs: u64) -> Result<usize, StoreError> {
        let tx = self.db().begin_write()?;
        let mut swept = 0;
        tx.open_table(SESSIONS)?.retain(|_, v| {
            let live = record::decode::<SessionRecord>(SESSION_RECORD_VERSION, v)
                .is_ok_and(|s| now.saturating_sub(s.last_used) <= idle_secs);
            swept += usize::from(!live);
            live
        })?;
        tx.commit()?;
        Ok(swept)
    }

    /// Ends a session (logout). Idempotent.
    pub fn end_session(&self, token: &str) -> Result<(), StoreError> {
        let tx = self.db().begin_write()?;
        tx.open_table(SESSIONS)?
            .remove(token_hash(token).as_slice())?;
        tx.commit()?;
        Ok(())
    }
}

fn end_sessions_of(tx: &redb::WriteTransaction, username: &str) -> Result<(), StoreError> {
    let mut sessions = tx.open_table(SESSIONS)?;
    sessions.retain(|_, v| {
        record::decode::<SessionRecord>(SESSION_RECORD_VERSION, v)
            .map(|s| s.username != username)
            .unwrap_or(false)
    })?;
    Ok(())
}

/// A password in transit; never shown by `Debug` (admin requests are logged).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl Coordinator {
    /// Gives an account a new password and ends its sessions (admin command).
    pub fn set_password(&self, username: &str, password: &Password) -> Result<(), AccountError> {
        let account = self
            .store()
            .account(username)?
            .ok_or_else(|| AccountError::Unknown(username.to_owned()))?;
        let spec = AccountSpec {
            username: account.username,
            password: Some(password.0.clone()),
            role: account.role,
            agent: account.agent,
            groups: account.groups,
        };
        self.store().put_account(&spec, false, crate::now_secs())?;
        tracing::info!(user = %username, "password changed");
        Ok(())
    }

    /// Creates an account (admin command). Blocking: hashes and commits.
    pub fn add_account(&self, spec: &AccountSpec) -> Result<AccountView, AccountError> {
        let account = self.store().put_account(spec, true, crate::now_secs())?;
        tracing::info!(user = %account.username, role = %account.role, "account created");
        Ok(AccountView::from(&account))
    }

    pub fn account_views(&self) -> Result<Vec<AccountView>, StoreError> {
        Ok(self.store().accounts()?.iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, role: Role) -> AccountSpec {
        AccountSpec {
            username: name.into(),
            password: Some("correct horse".into()),
            role,
            agent: Some(AgentId(1)),
            groups: if role == Role::TeamLead {
                vec![GroupId(1)]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn accounts_validate_hash_and_sessions_expire_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store
            .put_account(&spec("li", Role::Agent), true, 10)
            .unwrap();
        assert!(a.password_hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &a.password_hash));
        assert!(!verify_password("wrong horse", &a.password_hash));
        assert!(matches!(
            store.put_account(&spec("li", Role::Agent), true, 10),
            Err(AccountError::Exists(_))
        ));
        let mut bad = spec("x", Role::TeamLead);
        bad.groups.clear();
        assert!(matches!(
            bad.validate(true),
            Err(AccountError::Invalid {
                field: "groups",
                ..
            })
        ));

        let t = store.create_session("li", 100).unwrap();
        assert_eq!(t.len(), 64);
        assert!(store.session(&t, 150, 60).unwrap().is_some());
        // Used at 150 (not written: under a minute), idle from 100.
        assert!(store.session(&t, 161, 60).unwrap().is_none());
        assert!(store.session(&t, 162, 600).unwrap().is_none(), "deleted");

        let stale = store.create_session("li", 100).unwrap();
        let fresh = store.create_session("li", 1000).unwrap();
        assert_eq!(store.sweep_sessions(1001, 60).unwrap(), 1);
        assert!(store.session(&fresh, 1001, 60).unwrap().is_some());
        assert!(store.session(&stale, 101, 600).unwrap().is_none(), "swept");

        let t = store.create_session("li", 100).unwrap();
        let mut changed = spec("li", Role::Agent);
        changed.password = None;
        changed.agent = Some(AgentId(2));
        store.put_account(&changed, false, 110).unwrap();
        assert!(
            store.session(&t, 111, 60).unwrap().is_none(),
            "role change logs out"
        );
        let t = store.create_session("li", 100).unwrap();
        store.delete_account("li").unwrap();
        assert!(store.session(&t, 101, 60).unwrap().is_none());
        assert!(matches!(
            store.delete_account("li"),
            Err(AccountError::Unknown(_))
        ));
    }

    #[test]
    fn roles_parse_with_either_separator() {
        assert_eq!("team-lead".parse::<Role>().unwrap(), Role::TeamLead);
        assert_eq!("duty_manager".parse::<Role>().unwrap(), Role::DutyManager);
        assert!("boss".parse::<Role>().is_err());
    }
}
