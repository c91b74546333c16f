//! Reading one call that is over, for its log: from what the team hub
//! pushed when calls come from it, else from Aircall, each request taking
//! its turn in the company's budget ([`crate::pacer`]). Cloned into the
//! logging handler, so that logging never waits for the poller (nor the
//! poller for logging).

use crate::calls::FinishedCall;
use crate::client::{Aircall, AircallError};
use crate::error::PollError;
use crate::model::{Call, Insights, Status};
use crate::pacer::SharedPacer;
use callcard_core::clock::Clock;
use callcard_core::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct CallReader {
    client: Arc<Aircall>,
    store: Arc<Mutex<Store>>,
    clock: Arc<dyn Clock>,
    pacer: SharedPacer,
    /// Whether calls come from the team hub now (the poller says so).
    pushed: Arc<AtomicBool>,
}

impl CallReader {
    pub(crate) fn new(
        client: Arc<Aircall>,
        store: Arc<Mutex<Store>>,
        clock: Arc<dyn Clock>,
        pacer: SharedPacer,
        pushed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            client,
            store,
            clock,
            pacer,
            pushed,
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn following_hub(&self) -> bool {
        self.pushed.load(Ordering::Relaxed)
    }

    /// The call over, in full (tags and notes complete), for its first writes.
    pub async fn finished_call(&self, id: i64) -> Result<FinishedCall, PollError> {
        let call = self.call(id).await?;
        Ok(FinishedCall::of(&call, None))
    }

    /// The call over with its AI data, for its AI update.
    pub async fn finished_with_ai(&self, id: i64) -> Result<FinishedCall, PollError> {
        let call = self.call(id).await?;
        let insights = self.insights(id).await?;
        Ok(FinishedCall::of(&call, insights.as_ref()))
    }

    /// Following the hub, as it last pushed it (once it is over); else one
    /// request on the budget.
    async fn call(&self, id: i64) -> Result<Call, PollError> {
        if self.following_hub() {
            let pushed = self.store().pushed_call(id)?;
            if let Some(call) = pushed.and_then(|json| serde_json::from_str::<Call>(&json).ok()) {
                if call.status == Status::Done {
                    return Ok(call);
                }
            }
        }
        self.pacer.wait_turn().await;
        self.paced(self.client.call(id).await)
    }

    /// A call's AI data: what the hub pushed, else three requests on the budget.
    async fn insights(&self, id: i64) -> Result<Option<Insights>, PollError> {
        if self.following_hub() {
            let pushed = self.store().pushed_insights(id)?;
            if let Some(insights) = pushed.and_then(|json| serde_json::from_str::<Insights>(&json).ok()) {
                return Ok(insights.summary.is_some().then_some(insights));
            }
        }
        for _ in 0..3 {
            self.pacer.wait_turn().await;
        }
        self.paced(self.client.insights(id).await)
    }

    /// Tells the budget what Aircall answered (its rate headers, a 429).
    fn paced<T>(&self, answer: Result<T, AircallError>) -> Result<T, PollError> {
        match answer {
            Err(AircallError::RateLimited { reset_ms }) => {
                self.pacer.on_throttled(reset_ms, self.clock.now_ms());
                Err(PollError::Aircall(AircallError::RateLimited { reset_ms }))
            }
            other => {
                self.pacer.on_answer(self.client.last_rate(), self.clock.now_ms());
                other.map_err(PollError::Aircall)
            }
        }
    }
}
