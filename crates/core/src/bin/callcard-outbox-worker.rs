//! The child process of the outbox crash test (`tests/crash.rs`): enqueues N
//! call logs and dispatches them to a CRM that appends each write to a
//! journal file (fsync'd, outside the process, so it survives the kill).
//! The test kills this process with SIGKILL at random moments and checks at
//! the end that every call log is in the journal exactly once. It prints
//! `ready` when the dispatching starts and `done N` when nothing is left.
//!
//! Usage: callcard-outbox-worker DATABASE JOURNAL ITEMS

use callcard_core::activity::{FinalCall, LogOptions};
use callcard_core::clock::{Clock, SystemClock};
use callcard_core::crm::{ChangePage, Crm, CrmAccount, CrmError, CrmRecord, RecordRef, RemoteRef, Write};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::outbox::{ItemKey, ItemKind};
use callcard_core::settings::Settings;
use callcard_core::{Store, E164};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A CRM whose records are lines of a file.
struct JournalCrm {
    path: PathBuf,
}

impl JournalCrm {
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[async_trait::async_trait]
impl Crm for JournalCrm {
    fn account(&self) -> CrmAccount {
        CrmAccount {
            crm: "journal".into(),
            account: "crash-test".into(),
        }
    }

    /// The test enqueues its writes itself; only the dispatching is under test.
    fn call_writes(
        &self,
        _call: &FinalCall,
        _matches: &[CrmRecord],
        _chosen: Option<&RecordRef>,
        _settings: &Settings,
        _options: LogOptions,
    ) -> Vec<(String, Write)> {
        Vec::new()
    }

    async fn lookup(&self, _number: &E164) -> Result<Vec<CrmRecord>, CrmError> {
        Ok(Vec::new())
    }

    async fn write_call(&self, write: &Write) -> Result<RemoteRef, CrmError> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| CrmError::Transient(e.to_string()))?;
        // One write() per record, like one HTTP request: a kill cannot leave
        // half a line (writeln! would issue two writes, the text then "\n").
        file.write_all(format!("{}\n", write.reference).as_bytes())
            .map_err(|e| CrmError::Ambiguous(e.to_string()))?;
        file.sync_all().map_err(|e| CrmError::Ambiguous(e.to_string()))?;
        Ok(RemoteRef {
            id: write.reference.clone(),
            link: None,
        })
    }

    async fn update_call(&self, _remote: &RemoteRef, _write: &Write) -> Result<(), CrmError> {
        Ok(())
    }

    async fn write_sms(&self, _existing: Option<&RemoteRef>, write: &Write) -> Result<RemoteRef, CrmError> {
        self.write_call(write).await
    }

    async fn find_by_reference(&self, write: &Write) -> Result<Option<RemoteRef>, CrmError> {
        Ok(self.lines().contains(&write.reference).then(|| RemoteRef {
            id: write.reference.clone(),
            link: None,
        }))
    }

    async fn changed_since(&self, _since_ms: i64, _cursor: Option<&str>) -> Result<ChangePage, CrmError> {
        Ok(ChangePage {
            records: Vec::new(),
            next: None,
            total: Some(0),
        })
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(database), Some(journal), Some(items)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: callcard-outbox-worker DATABASE JOURNAL ITEMS");
    };
    let items: u32 = items.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = Store::open(std::path::Path::new(&database))?;
        let clock = Arc::new(SystemClock);
        // Items go in one transaction each, in order, so what a killed run
        // left is a prefix: go on from its last item (enqueuing is
        // idempotent, so the one it may have been writing is safe to repeat).
        // Re-enqueuing all of them on every run would spend each kill's
        // window on fsync'd inserts on a slow disk, and no kill would ever
        // hit the dispatcher.
        let counts = store.outbox_counts()?;
        let already = counts.pending + counts.in_flight + counts.done + counts.failed;
        let from = u32::try_from(already.saturating_sub(1)).unwrap_or(items);
        for n in from..items {
            let key = ItemKey {
                crm: "journal".into(),
                account: "crash-test".into(),
                call_id: n.to_string(),
                kind: ItemKind::Call,
                target: "contact:1".into(),
            };
            let write = Write {
                reference: format!("aircall-call-{n}"),
                payload: serde_json::json!({"n": n}),
            };
            store.enqueue(&key, &write, None, clock.now_ms())?;
        }
        store.recover_in_flight(clock.now_ms())?;
        // Tells the test that the dispatching starts now: its kills aim here.
        println!("ready");
        std::io::stdout().flush()?;
        let store = Arc::new(Mutex::new(store));
        let crm = Arc::new(JournalCrm { path: journal.into() });
        let dispatcher = Dispatcher::new(store.clone(), crm, clock, RetryPolicy::default(), None);
        loop {
            let outcomes = dispatcher.run_once().await?;
            let counts = store.lock().unwrap_or_else(|p| p.into_inner()).outbox_counts()?;
            if counts.pending == 0 && counts.in_flight == 0 {
                println!("done {}", counts.done);
                return Ok(());
            }
            if outcomes.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    })
}
