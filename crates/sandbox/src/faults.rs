//! Fault injection, per API and per endpoint: "the next N requests" or "a
//! fraction p of requests" get a status, a delay, no answer, a reset
//! connection, or a cut-off body.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status (429 with `Retry-After`, 5xx) without processing.
    Status { status: u16, retry_after: Option<u64> },
    /// Wait, then process normally.
    Delay { ms: u64 },
    /// Process, then never answer: the client times out not knowing the outcome.
    Timeout,
    /// Process, then reset the connection: the write happened, the answer is lost.
    Reset,
    /// Reset the connection before processing.
    ResetBefore,
    /// Process, then send half of the body.
    Malformed,
    /// Process, then answer 200 with a whole body that is not JSON.
    Garbage,
    /// Process, then answer 200 with a body far larger than any real answer.
    Oversized,
}

/// What the control API accepts.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultSpec {
    pub api: Option<String>,
    /// Matches endpoints starting with this, relative to the API prefix (`/v1/calls`).
    pub endpoint: Option<String>,
    pub method: Option<String>,
    /// `429`, `500`, `502`, `503`, `status`, `delay`, `timeout`, `reset`, `reset_before`, `malformed`,
    /// `garbage`, `oversized`.
    pub kind: String,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    /// Applies to the next N matching requests, then is gone.
    pub next: Option<u32>,
    /// Applies to each matching request with this probability, until deleted.
    pub fraction: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    pub api: Option<String>,
    pub endpoint: Option<String>,
    pub method: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    pub remaining: Option<u32>,
    pub fraction: Option<f64>,
}

impl FaultSpec {
    pub fn into_fault(self, id: u64) -> Result<Fault, String> {
        let kind = match self.kind.as_str() {
            "delay" => FaultKind::Delay {
                ms: self.delay_ms.ok_or("delay needs delay_ms")?,
            },
            "timeout" => FaultKind::Timeout,
            "reset" => FaultKind::Reset,
            "reset_before" => FaultKind::ResetBefore,
            "malformed" => FaultKind::Malformed,
            "garbage" => FaultKind::Garbage,
            "oversized" => FaultKind::Oversized,
            "status" => FaultKind::Status {
                status: self.status.ok_or("status needs status")?,
                retry_after: self.retry_after,
            },
            numeric => {
                let status: u16 = numeric
                    .parse()
                    .map_err(|_| format!("unknown fault kind {numeric:?}"))?;
                let retry_after = if status == 429 {
                    self.retry_after.or(Some(1))
                } else {
                    self.retry_after
                };
                FaultKind::Status { status, retry_after }
            }
        };
        if let Some(p) = self.fraction {
            if !(0.0..=1.0).contains(&p) {
                return Err("fraction must be between 0 and 1".into());
            }
        }
        Ok(Fault {
            id,
            api: self.api,
            endpoint: self.endpoint,
            method: self.method.map(|m| m.to_ascii_uppercase()),
            kind,
            remaining: self.next,
            fraction: self.fraction,
        })
    }
}

pub struct Faults {
    pub list: Vec<Fault>,
    next_id: u64,
    rng: StdRng,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Self {
            list: Vec::new(),
            next_id: 1,
            rng: StdRng::seed_from_u64(seed ^ 0xfa17),
        }
    }

    pub fn add(&mut self, spec: FaultSpec) -> Result<Fault, String> {
        let fault = spec.into_fault(self.next_id)?;
        self.next_id += 1;
        self.list.push(fault.clone());
        Ok(fault)
    }

    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// The fault that applies to this request, if any; counts it down.
    pub fn pick(&mut self, api: &str, method: &str, endpoint: &str) -> Option<Fault> {
        let index = self.list.iter().position(|f| {
            f.api.as_deref().is_none_or(|a| a == api)
                && f.method.as_deref().is_none_or(|m| m == method)
                && f.endpoint.as_deref().is_none_or(|e| endpoint.starts_with(e))
        })?;
        if let Some(p) = self.list[index].fraction {
            if !self.rng.gen_bool(p) {
                return None;
            }
        }
        let fault = self.list[index].clone();
        if let Some(remaining) = self.list[index].remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.list.remove(index);
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str) -> FaultSpec {
        FaultSpec {
            api: Some("aircall".into()),
            endpoint: Some("/v1/calls".into()),
            method: None,
            kind: kind.into(),
            status: None,
            retry_after: None,
            delay_ms: None,
            next: Some(2),
            fraction: None,
        }
    }

    #[test]
    fn a_next_n_fault_applies_n_times_then_is_gone() {
        let mut faults = Faults::new(1);
        faults.add(spec("503")).unwrap();
        assert!(faults.pick("aircall", "GET", "/v1/calls/1").is_some());
        assert!(faults.pick("aircall", "GET", "/v1/calls").is_some());
        assert!(faults.pick("aircall", "GET", "/v1/calls").is_none());
    }

    #[test]
    fn faults_match_api_and_endpoint_prefix_only() {
        let mut faults = Faults::new(1);
        faults.add(spec("timeout")).unwrap();
        assert!(faults.pick("sellsy", "GET", "/v1/calls").is_none());
        assert!(faults.pick("aircall", "GET", "/v1/users").is_none());
        assert_eq!(
            faults.pick("aircall", "GET", "/v1/calls").unwrap().kind,
            FaultKind::Timeout
        );
    }

    #[test]
    fn a_fraction_applies_about_that_often() {
        let mut faults = Faults::new(7);
        faults
            .add(FaultSpec {
                next: None,
                fraction: Some(0.25),
                ..spec("500")
            })
            .unwrap();
        let hits = (0..4000)
            .filter(|_| faults.pick("aircall", "GET", "/v1/calls").is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits}");
    }

    #[test]
    fn a_429_fault_carries_retry_after() {
        let fault = spec("429").into_fault(1).unwrap();
        assert_eq!(
            fault.kind,
            FaultKind::Status {
                status: 429,
                retry_after: Some(1)
            }
        );
        assert!(spec("bogus").into_fault(1).is_err());
    }
}
