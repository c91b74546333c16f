//! An in-memory CRM for tests and benchmarks: it keeps what is written,
//! answers lookups by reference, can be slowed down, and fails on demand —
//! including the nasty way, after writing (an ambiguous failure).

use callcard_core::activity::{FinalCall, LogOptions};
use callcard_core::crm::{ChangePage, Crm, CrmAccount, CrmError, CrmRecord, RecordRef, RemoteRef, Write};
use callcard_core::phone::E164;
use callcard_core::settings::Settings;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// A failure to inject into the next write.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Fails before writing.
    Before(CrmError),
    /// Writes, then fails: the caller cannot know it worked.
    AfterWriting(CrmError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub id: String,
    pub reference: String,
    pub payload: serde_json::Value,
    pub updates: u32,
}

#[derive(Default)]
struct Inner {
    records: Vec<CrmRecord>,
    written: Vec<Written>,
    failures: VecDeque<Failure>,
    calls: u64,
}

pub struct MemoryCrm {
    account: CrmAccount,
    latency: Duration,
    inner: Mutex<Inner>,
}

impl MemoryCrm {
    pub fn new(name: &str) -> Self {
        Self {
            account: CrmAccount {
                crm: name.to_owned(),
                account: "test".to_owned(),
            },
            latency: Duration::ZERO,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A record that lookups by any of its phones find.
    pub fn add_record(&self, record: CrmRecord) {
        self.inner().records.push(record);
    }

    /// The next writes fail like this, in order.
    pub fn fail_next(&self, failure: Failure) {
        self.inner().failures.push_back(failure);
    }

    pub fn written(&self) -> Vec<Written> {
        self.inner().written.clone()
    }

    /// Requests received, of every kind.
    pub fn calls(&self) -> u64 {
        self.inner().calls
    }

    async fn request(&self) {
        self.inner().calls += 1;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn take_failure(&self) -> Option<Failure> {
        self.inner().failures.pop_front()
    }

    fn store(&self, write: &Write) -> RemoteRef {
        let mut inner = self.inner();
        let id = format!("{}-{}", self.account.crm, inner.written.len() + 1);
        inner.written.push(Written {
            id: id.clone(),
            reference: write.reference.clone(),
            payload: write.payload.clone(),
            updates: 0,
        });
        RemoteRef { id, link: None }
    }

    fn write(&self, write: &Write) -> Result<RemoteRef, CrmError> {
        match self.take_failure() {
            Some(Failure::Before(error)) => Err(error),
            Some(Failure::AfterWriting(error)) => {
                self.store(write);
                Err(error)
            }
            None => Ok(self.store(write)),
        }
    }
}

#[async_trait::async_trait]
impl Crm for MemoryCrm {
    fn account(&self) -> CrmAccount {
        self.account.clone()
    }

    async fn lookup(&self, number: &E164) -> Result<Vec<CrmRecord>, CrmError> {
        self.request().await;
        Ok(self
            .inner()
            .records
            .iter()
            .filter(|r| r.phones.contains(number))
            .cloned()
            .collect())
    }

    async fn write_call(&self, write: &Write) -> Result<RemoteRef, CrmError> {
        self.request().await;
        self.write(write)
    }

    async fn update_call(&self, remote: &RemoteRef, write: &Write) -> Result<(), CrmError> {
        self.request().await;
        if let Some(Failure::Before(error)) = self.take_failure() {
            return Err(error);
        }
        let mut inner = self.inner();
        match inner.written.iter_mut().find(|w| w.id == remote.id) {
            Some(w) => {
                w.payload = write.payload.clone();
                w.updates += 1;
                Ok(())
            }
            None => Err(CrmError::Rejected(format!("no record {}", remote.id))),
        }
    }

    async fn write_sms(&self, _existing: Option<&RemoteRef>, write: &Write) -> Result<RemoteRef, CrmError> {
        self.request().await;
        self.write(write)
    }

    async fn find_by_reference(&self, write: &Write) -> Result<Option<RemoteRef>, CrmError> {
        self.request().await;
        Ok(self
            .inner()
            .written
            .iter()
            .find(|w| w.reference == write.reference)
            .map(|w| RemoteRef {
                id: w.id.clone(),
                link: None,
            }))
    }

    /// A note per target record (a candidate and a contact at most).
    fn call_writes(
        &self,
        call: &FinalCall,
        matches: &[CrmRecord],
        chosen: Option<&RecordRef>,
        settings: &Settings,
        options: LogOptions,
    ) -> Vec<(String, Write)> {
        callcard_core::matching::targets_with_choice(matches, &callcard_core::matching::PEOPLE, settings.duplicate_rule, chosen)
            .into_iter()
            .map(|target| {
                let reference = callcard_core::activity::reference(call.call_id);
                let text = callcard_core::activity::call_text(call, options);
                let write = Write {
                    payload: serde_json::json!({"target": target.record, "note": {"text": text, "reference": reference}}),
                    reference,
                };
                (callcard_core::call_log::target_key(&target.record), write)
            })
            .collect()
    }

    async fn changed_since(&self, _since_ms: i64, _cursor: Option<&str>) -> Result<ChangePage, CrmError> {
        self.request().await;
        Ok(ChangePage {
            records: Vec::new(),
            next: None,
            total: Some(0),
        })
    }
}
