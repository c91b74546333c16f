//! From a call to what the CRM receives, CRM-agnostic: who the caller is
//! (the local phone index first, the CRM's live search as a fallback), the
//! card a ringing call shows and the record the user picked on it, and the
//! writes a final call puts in the outbox (and the update once AI data
//! arrives). The CRM decides the shape of its writes through
//! [`Crm::call_writes`]; this module decides when and to whom.

pub use crate::card::{target_key, Card};

use crate::activity::{Direction, FinalCall, LogOptions};
use crate::crm::{Crm, CrmError, CrmRecord, RecordRef};
use crate::outbox::{ItemKey, ItemKind};
use crate::phone::E164;
use crate::settings::Settings;
use crate::store::{Store, StoreError};
use std::sync::{Arc, Mutex};

/// One CRM, seen from the call pipeline.
pub struct CallLog {
    store: Arc<Mutex<Store>>,
    crm: Arc<dyn Crm>,
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, thiserror::Error)]
pub enum CallLogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crm(#[from] CrmError),
}

impl CallLog {
    pub fn new(store: Arc<Mutex<Store>>, crm: Arc<dyn Crm>) -> Self {
        Self { store, crm }
    }

    pub fn crm(&self) -> &Arc<dyn Crm> {
        &self.crm
    }

    /// Who has this number: the phone index when it knows, else the CRM's
    /// live search (whose answers then join the index).
    pub async fn find_caller(&self, number: &E164) -> Result<Vec<CrmRecord>, CallLogError> {
        Ok(self.find_caller_noting_source(number).await?.0)
    }

    /// The records, and whether they came from the index (true) or the live search.
    pub async fn find_caller_noting_source(
        &self,
        number: &E164,
    ) -> Result<(Vec<CrmRecord>, bool), CallLogError> {
        let account = self.crm.account();
        let indexed = lock(&self.store).index_lookup(&account, number)?;
        if !indexed.is_empty() {
            return Ok((self.crm.order_matches(indexed), true));
        }
        let found = self.crm.lookup(number).await?;
        lock(&self.store).index_records(&account, &found)?;
        Ok((self.crm.order_matches(found), false))
    }

    /// Brings the phone index up to date with the CRM's changes since the
    /// last refresh (everything, the first time). Returns the records seen.
    pub async fn refresh_index(&self, now_ms: i64) -> Result<usize, CallLogError> {
        let account = self.crm.account();
        let checkpoint = format!("index:{}:{}", account.crm, account.account);
        let since = lock(&self.store).checkpoint(&checkpoint)?.unwrap_or(0);
        let mut cursor: Option<String> = None;
        let mut seen = 0;
        loop {
            let page = self.crm.changed_since(since, cursor.as_deref()).await?;
            seen += page.records.len();
            lock(&self.store).index_records(&account, &page.records)?;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // A record changed during the read is read again next time: a minute of overlap.
        lock(&self.store).set_checkpoint(&checkpoint, (now_ms - 60_000).max(0))?;
        Ok(seen)
    }

    /// The card of a ringing call, saved for the window and the log.
    pub async fn card_for(
        &self,
        call_id: i64,
        number: &E164,
        direction: Direction,
        now_ms: i64,
    ) -> Result<Card, CallLogError> {
        let (matches, from_index) = self.find_caller_noting_source(number).await?;
        let matches: Vec<CrmRecord> = matches.into_iter().map(CrmRecord::shown).collect();
        let account = self.crm.account();
        let remembered = lock(&self.store).number_choice(&account, number.as_str())?;
        let chosen = crate::matching::remembered(&matches, remembered.as_ref()).map(|r| r.record.clone());
        let card = Card {
            call_id,
            number: number.as_str().to_owned(),
            direction,
            crm: account.crm.clone(),
            account: account.account.clone(),
            matches,
            chosen,
            from_index,
        };
        lock(&self.store).save_card(&card, now_ms)?;
        Ok(card)
    }

    /// After a card was shown from the index: the live search confirms and
    /// completes it (a record the index does not know yet, a number stored
    /// in a form the index could not read). Returns the card as saved when
    /// it changed, so that nobody reads it back.
    pub async fn complete_card(
        &self,
        call_id: i64,
        number: &E164,
        now_ms: i64,
    ) -> Result<Option<Card>, CallLogError> {
        let found = self.crm.lookup(number).await?;
        let account = self.crm.account();
        lock(&self.store).index_records(&account, &found)?;
        let Some(mut card) = lock(&self.store).card(call_id, &account.crm)? else {
            return Ok(None);
        };
        let mut changed = false;
        // What the index knew and the search did not find: completed by id.
        for known in card.matches.iter_mut() {
            if !found.iter().any(|f| f.record == known.record) {
                let completed = self.crm.complete_record(known.clone()).await?.shown();
                changed |= completed != *known;
                *known = completed;
            }
        }
        for mut record in found.into_iter().map(CrmRecord::shown) {
            match card.matches.iter_mut().find(|m| m.record == record.record) {
                Some(known) if *known != record => {
                    // A search hit carries less than a full record: keep what the index knew.
                    record.owner = record.owner.or(known.owner.take());
                    record.position = record.position.or(known.position.take());
                    record.company = record.company.or(known.company.take());
                    record.email = record.email.or(known.email.take());
                    record.company_id = record.company_id.or(known.company_id.take());
                    record.opportunity = record.opportunity.or(known.opportunity.take());
                    changed |= *known != record;
                    *known = record;
                }
                Some(_) => {}
                None => {
                    card.matches.push(record);
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(None);
        }
        card.matches = self.crm.order_matches(card.matches);
        lock(&self.store).save_card(&card, now_ms)?;
        Ok(Some(card))
    }

    /// Puts a final call's writes in the outbox and marks it logged, or marks
    /// it logged with nothing to write (no caller, the duplicates rule). The
    /// outbox's unique key makes a second run after a crash harmless.
    pub async fn log_final(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let queued = self.queue_final(call, number, settings, now_ms).await?;
        lock(&self.store).mark_logged(call.call_id)?;
        Ok(queued)
    }

    /// A final call's writes into the outbox, without marking the call
    /// logged: with several CRMs, the call is logged once all have queued.
    pub async fn queue_final(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let options = LogOptions {
            ai: settings.log_ai_info,
            recording_link: settings.log_recording_link,
        };
        let writes = self.planned_writes(call, number, settings, options).await?;
        let store = lock(&self.store);
        for (key, write) in &writes {
            store.enqueue(key, write, None, now_ms)?;
        }
        Ok(writes.len())
    }

    /// An SMS into the outbox in the mode chosen, on the records the CRM's
    /// rules pick for the other party (as for a call: the duplicate rule, the
    /// user's remembered pick). Conversation mode appends the line to the
    /// record's open note while it comes at most 72 hours after the note's
    /// last change and the text stays within the limit; otherwise, and in
    /// per-SMS mode, it starts a note. Returns how many writes were queued
    /// (none: logging is off, no record has the number, or this CRM logs no SMS).
    pub async fn queue_sms(
        &self,
        sms: &crate::sms::SmsLog,
        number: &E164,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        use crate::settings::SmsMode;
        use crate::sms::{decide, OpenNote, SmsDecision};
        if settings.sms_mode == SmsMode::Off {
            return Ok(0);
        }
        let matches = self.find_caller(number).await?;
        if matches.is_empty() {
            // Not logged: the history says "no record".
            lock(&self.store).note_sms_without_record(&sms.id, &sms.other_party, sms.at_ms)?;
            return Ok(0);
        }
        let account = self.crm.account();
        let remembered = lock(&self.store).number_choice(&account, number.as_str())?;
        let chosen = crate::matching::remembered(&matches, remembered.as_ref()).map(|r| r.record.clone());
        let line = crate::sms::line(sms);
        let reference = crate::sms::reference(&sms.id);
        let write_of = |text: &str, target: &str| {
            self.crm
                .sms_writes(text, &reference, &matches, chosen.as_ref(), settings)
                .into_iter()
                .find(|(t, _)| t == target)
                .map(|(_, write)| write)
        };
        let targets: Vec<String> = self
            .crm
            .sms_writes(&line, &reference, &matches, chosen.as_ref(), settings)
            .into_iter()
            .map(|(target, _)| target)
            .collect();
        let mut queued = 0;
        for target in targets {
            let key = ItemKey {
                crm: account.crm.clone(),
                account: account.account.clone(),
                call_id: format!("sms:{}", sms.id),
                kind: ItemKind::Sms,
                target: target.clone(),
            };
            let store = lock(&self.store);
            if store.outbox_key_exists(&key)? {
                // Queued before (the hub sent it again after a restart).
                continue;
            }
            let open = match settings.sms_mode {
                SmsMode::Conversation => store.sms_conversation(&account.crm, &account.account, &target)?,
                _ => None,
            };
            let decision = decide(
                settings.sms_mode,
                sms.at_ms,
                open.as_ref()
                    .map(|c| OpenNote {
                        last_change_ms: c.last_change_ms,
                        chars: c.text.chars().count(),
                    })
                    .as_ref(),
                line.chars().count(),
                settings.sms_note_max_chars as usize,
            );
            let this = crate::store::SmsLine {
                at_ms: sms.at_ms,
                id: sms.id.clone(),
                line: line.clone(),
            };
            let (lines, follows) = match (decision, open) {
                (SmsDecision::Append, Some(open)) => {
                    let follows = ItemKey {
                        call_id: open.last_item.clone(),
                        ..key.clone()
                    };
                    // In the SMS's order, even when delivered late.
                    let mut lines = open.lines;
                    lines.push(this);
                    lines.sort_by(|a, b| a.order().cmp(&b.order()));
                    (lines, Some(follows))
                }
                (SmsDecision::Skip, _) => continue,
                _ => (vec![this], None),
            };
            let text = lines
                .iter()
                .map(|l| l.line.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let Some(mut write) = write_of(&text, &target) else {
                continue;
            };
            // Its own line, should the CRM refuse to extend the note (see the dispatcher).
            if let Some(payload) = write.payload.as_object_mut() {
                payload.insert("sms_line".into(), serde_json::json!(line));
                payload.insert("sms_at_ms".into(), serde_json::json!(sms.at_ms));
            }
            let added = match settings.sms_mode {
                SmsMode::Conversation => {
                    store.enqueue_sms(&key, &write, follows.as_ref(), &lines, sms.at_ms, now_ms)?
                }
                _ => store.enqueue(&key, &write, None, now_ms)?.1,
            };
            if added {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// After AI data arrived: the same writes again, with it, as updates of
    /// the first ones. Nothing when the setting is off or nothing was written.
    pub async fn log_ai(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let queued = self.queue_ai(call, number, settings, now_ms).await?;
        lock(&self.store).mark_ai_logged(call.call_id)?;
        Ok(queued)
    }

    /// The AI updates into the outbox, without marking them done (see [`Self::queue_final`]).
    pub async fn queue_ai(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let mut count = 0;
        if settings.log_ai_info && call.ai.is_some() {
            let options = LogOptions {
                ai: true,
                recording_link: settings.log_recording_link,
            };
            let writes = self.planned_writes(call, number, settings, options).await?;
            let store = lock(&self.store);
            for (first, write) in &writes {
                // Only what was written first is updated.
                if store.outbox_key_exists(first)? {
                    let update = ItemKey {
                        kind: ItemKind::CallUpdate,
                        ..first.clone()
                    };
                    store.enqueue(&update, write, Some(first), now_ms)?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// The CRM's writes for a call, each under its first-write outbox key.
    async fn planned_writes(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        options: LogOptions,
    ) -> Result<Vec<(ItemKey, crate::crm::Write)>, CallLogError> {
        let (matches, chosen) = self.matches_for(call.call_id, number).await?;
        let account = self.crm.account();
        Ok(self
            .crm
            .call_writes(call, &matches, chosen.as_ref(), settings, options)
            .into_iter()
            .map(|(target, write)| {
                let key = ItemKey {
                    crm: account.crm.clone(),
                    account: account.account.clone(),
                    call_id: call.call_id.to_string(),
                    kind: ItemKind::Call,
                    target,
                };
                (key, write)
            })
            .collect())
    }

    /// The card's matches and pick when the call rang here; otherwise (a call
    /// caught up later, an outbound call) a fresh search and the remembered pick.
    async fn matches_for(
        &self,
        call_id: i64,
        number: Option<&E164>,
    ) -> Result<(Vec<CrmRecord>, Option<RecordRef>), CallLogError> {
        let account = self.crm.account();
        let card = lock(&self.store).card(call_id, &account.crm)?;
        if let Some(card) = card {
            let remembered = match &card.chosen {
                Some(chosen) => Some(chosen.clone()),
                None => lock(&self.store).number_choice(&account, &card.number)?,
            };
            let chosen =
                crate::matching::remembered(&card.matches, remembered.as_ref()).map(|r| r.record.clone());
            return Ok((card.matches, chosen));
        }
        let Some(number) = number else {
            return Ok((Vec::new(), None));
        };
        let matches = self.find_caller(number).await?;
        let remembered = lock(&self.store).number_choice(&account, number.as_str())?;
        let chosen = crate::matching::remembered(&matches, remembered.as_ref()).map(|r| r.record.clone());
        Ok((matches, chosen))
    }
}
