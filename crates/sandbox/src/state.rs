//! The sandbox's whole state: one lock, short critical sections, no await
//! while holding it.

use crate::clock::SandboxClock;
use crate::{aircall, faults, jobadder, limits, oauth, seed, sellsy, SandboxConfig};
use serde::Serialize;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

/// Fixed test credentials. They are not secrets: the sandbox only ever runs
/// on loopback with made-up data.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub aircall_api_id: String,
    pub aircall_api_token: String,
    pub jobadder_client_id: String,
    pub jobadder_client_secret: String,
    pub sellsy_client_id: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            aircall_api_id: "sandbox-api-id".into(),
            aircall_api_token: "sandbox-api-token".into(),
            jobadder_client_id: "sandbox-jobadder-client".into(),
            jobadder_client_secret: "sandbox-jobadder-secret".into(),
            sellsy_client_id: "sandbox-sellsy-client".into(),
        }
    }
}

/// A CRM record in its vendor's own field names, plus what the simulator
/// needs to know about it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub fields: Map<String, Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Region used to read numbers stored without a country code.
    pub region: String,
}

impl Record {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    pub fn bool(&self, key: &str) -> bool {
        self.fields.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub t_ms: i64,
    pub api: &'static str,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub status: u16,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ApiStats {
    pub requests: u64,
    pub throttled: u64,
}

pub struct World {
    pub aircall: aircall::AircallWorld,
    pub jobadder: jobadder::JobAdderWorld,
    pub sellsy: sellsy::SellsyWorld,
    pub oauth: oauth::OAuthWorld,
    pub limits: limits::LimitState,
    pub faults: faults::Faults,
    pub requests: Vec<LoggedRequest>,
    pub stats: std::collections::BTreeMap<&'static str, ApiStats>,
}

impl World {
    fn new(config: &SandboxConfig, now_ms: i64) -> Self {
        let mut seeded = seed::generate(config.seed, config.records_per_kind, now_ms);
        if let Some(first) = config.first_aircall_id {
            seeded.aircall.next_id = first - 1;
        }
        Self {
            aircall: seeded.aircall,
            jobadder: seeded.jobadder,
            sellsy: seeded.sellsy,
            oauth: oauth::OAuthWorld::default(),
            limits: limits::LimitState::new(config.limits.clone()),
            faults: faults::Faults::new(config.seed),
            requests: Vec::new(),
            stats: Default::default(),
        }
    }
}

pub struct Shared {
    pub clock: SandboxClock,
    pub credentials: Credentials,
    pub base_url: String,
    pub config: SandboxConfig,
    world: Mutex<World>,
    pub webhooks: std::sync::Arc<crate::webhooks::Webhooks>,
}

impl Shared {
    pub fn new(config: &SandboxConfig, addr: SocketAddr) -> Self {
        let clock = SandboxClock::default();
        let world = World::new(config, clock.now_ms());
        Self {
            clock,
            credentials: Credentials::default(),
            base_url: format!("http://{addr}"),
            config: config.clone(),
            world: Mutex::new(world),
            webhooks: Default::default(),
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Back to the seeded world; the clock offset stays.
    pub fn reset(&self) {
        let fresh = World::new(&self.config, self.clock.now_ms());
        *self.world() = fresh;
        self.webhooks.clear();
    }

    pub fn default_user_email(&self) -> String {
        self.world()
            .aircall
            .users
            .first()
            .map(|u| u.email.clone())
            .unwrap_or_default()
    }
}
