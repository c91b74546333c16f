//! Contacts from a CRM into Aircall, in bulk (DESIGN §1.6): the contacts a
//! CRM created or changed since the connection (polled, no webhooks on a
//! desktop), and the "Import existing contacts" action for the rest, saved
//! contact by contact so that the progress shows and an interrupted import
//! resumes. Each number gets one
//! Aircall contact ([`crate::contacts::sync_contact`]), the local id map
//! remembers it, and a record unchanged since its last sync costs no request.
//! Aircall's limit is per company and shared: requests are paced.

use crate::client::{Aircall, AircallError};
use crate::contacts::sync_contact;
use callcard_core::clock::Clock;
use callcard_core::contact_import::ImportProgress;
use callcard_core::crm::{Crm, CrmAccount, CrmError, CrmRecord, RecordKind};
use callcard_core::store::{Store, StoreError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How many times one contact is tried against Aircall's rate limit.
const RATE_LIMIT_TRIES: u32 = 5;

pub struct ContactSync {
    client: Arc<Aircall>,
    store: Arc<Mutex<Store>>,
    clock: Arc<dyn Clock>,
    /// The CRM's name in Aircall's `information` ("Sellsy").
    crm_name: &'static str,
    interval: Duration,
    next_free: tokio::sync::Mutex<Instant>,
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

impl ContactSync {
    /// `per_minute`: this sync's share of the company's Aircall limit.
    pub fn new(
        client: Arc<Aircall>,
        store: Arc<Mutex<Store>>,
        clock: Arc<dyn Clock>,
        crm_name: &'static str,
        per_minute: u32,
    ) -> Self {
        Self {
            client,
            store,
            clock,
            crm_name,
            interval: Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1))),
            next_free: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    pub fn store(&self) -> &Arc<Mutex<Store>> {
        &self.store
    }

    async fn wait_turn(&self) {
        let turn = {
            let mut next = self.next_free.lock().await;
            let turn = (*next).max(Instant::now());
            *next = turn + self.interval;
            turn
        };
        tokio::time::sleep_until(turn).await;
    }

    /// Brings one record's numbers into Aircall; returns how many were written
    /// (0 when all were in step already).
    pub async fn sync_record(&self, account: &CrmAccount, record: &CrmRecord) -> Result<usize, SyncError> {
        let mut written = 0;
        for number in &record.phones {
            // Only a change since the number's last sync brings a record
            // forward (two records sharing a number do not take turns).
            let mapped = lock(&self.store).mapped_contact(account, number)?;
            if mapped.is_some_and(|(_, _, synced_ms)| record.updated_ms <= synced_ms) {
                continue;
            }
            let mut tries = 0;
            let synced = loop {
                // A search, then a create or an update.
                self.wait_turn().await;
                self.wait_turn().await;
                match sync_contact(&self.client, self.crm_name, record, number).await {
                    Ok(synced) => break synced,
                    Err(AircallError::RateLimited { reset_ms }) if tries + 1 < RATE_LIMIT_TRIES => {
                        tries += 1;
                        let now = self.clock.now_ms();
                        let wait = reset_ms.map_or(10_000, |reset| (reset - now).clamp(1_000, 60_000));
                        tracing::info!(wait_ms = wait, "Aircall's rate limit: contact sync waits");
                        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                    }
                    Err(error) => return Err(error.into()),
                }
            };
            lock(&self.store).map_contact(
                account,
                number,
                &record.record,
                synced.contact_id(),
                self.clock.now_ms(),
            )?;
            written += 1;
        }
        Ok(written)
    }

    /// Contacts the CRM created or changed since the last run (since the
    /// connection, the first time: the rest is the import's). Returns how
    /// many numbers were written to Aircall.
    pub async fn sync_changes(&self, crm: &dyn Crm) -> Result<usize, SyncError> {
        let account = crm.account();
        let checkpoint = format!("contact_sync:{}:{}", account.crm, account.account);
        let started = self.clock.now_ms();
        let Some(since) = lock(&self.store).checkpoint(&checkpoint)? else {
            lock(&self.store).set_checkpoint(&checkpoint, started)?;
            return Ok(0);
        };
        let mut cursor: Option<String> = None;
        let mut written = 0;
        loop {
            let page = crm.changed_since(since, cursor.as_deref()).await?;
            for record in page
                .records
                .iter()
                .filter(|r| r.record.kind == RecordKind::Contact)
            {
                written += self.sync_record(&account, record).await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // A change made during the run is read again next time.
        lock(&self.store).set_checkpoint(&checkpoint, (started - 60_000).max(since))?;
        Ok(written)
    }

    /// Every contact of the CRM into Aircall, resuming an unfinished run at
    /// its page and contact. `progress` sees the state after each contact.
    pub async fn import(
        &self,
        crm: &dyn Crm,
        progress: impl Fn(&ImportProgress),
    ) -> Result<ImportProgress, SyncError> {
        let account = crm.account();
        let mut state = match lock(&self.store).import_progress(&account)? {
            Some(unfinished) if !unfinished.is_finished() => unfinished,
            _ => ImportProgress::start(&account, self.clock.now_ms()),
        };
        state.error = None;
        progress(&state);
        loop {
            let page = match crm.contacts(state.cursor.as_deref()).await {
                Ok(page) => page,
                Err(error) => return Err(self.stopped(state, error.into())),
            };
            state.total = page.total.or(state.total);
            // Those done before an interruption are skipped (and would be
            // found in step anyway).
            let already = usize::try_from(state.page_done).unwrap_or(usize::MAX);
            for record in page.records.iter().skip(already) {
                if let Err(error) = self.sync_record(&account, record).await {
                    return Err(self.stopped(state, error));
                }
                state.done += 1;
                state.page_done += 1;
                lock(&self.store).save_import_progress(&state)?;
                progress(&state);
            }
            state.cursor = page.next.clone();
            state.page_done = 0;
            if page.next.is_none() {
                state.finished_ms = Some(self.clock.now_ms());
                state.total = Some(state.total.unwrap_or(state.done).max(state.done));
            }
            lock(&self.store).save_import_progress(&state)?;
            progress(&state);
            if state.is_finished() {
                return Ok(state);
            }
        }
    }

    /// Keeps why an import stopped, for the window; the next run resumes.
    fn stopped(&self, mut state: ImportProgress, error: SyncError) -> SyncError {
        state.error = Some(error.to_string());
        if let Err(store_error) = lock(&self.store).save_import_progress(&state) {
            tracing::warn!(%store_error, "cannot save the import's progress");
        }
        error
    }
}
