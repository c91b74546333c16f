//! A busy company's past: thousands of calls over days on ring-group
//! numbers (one number ringing for several users), answered by whoever
//! picked up, some missed, some left as voicemails, some transferred from
//! one colleague to another, outbound calls by each user. Written straight
//! into the world (they are history: no webhooks), reproducibly from a seed.

use crate::aircall::Call;
use crate::state::Shared;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What to write: `calls` calls started between `from` and `to` (Unix s).
#[derive(Debug, Clone, Deserialize)]
pub struct CompanyHistory {
    pub from: i64,
    pub to: i64,
    pub calls: u32,
    /// The numbers calls come in on (default: every number). Each rings
    /// the users who have it.
    #[serde(default)]
    pub number_ids: Vec<i64>,
    /// Who may pick up (default: every user on the number).
    #[serde(default)]
    pub users: Vec<i64>,
    /// Share of inbound calls nobody answered (missed or voicemail).
    #[serde(default = "default_missed")]
    pub missed: f64,
    /// Share of answered inbound calls transferred to another user.
    #[serde(default = "default_transferred")]
    pub transferred: f64,
    /// Share of outbound calls.
    #[serde(default = "default_outbound")]
    pub outbound: f64,
    /// The other parties (default: made-up UK mobiles).
    #[serde(default)]
    pub external_numbers: Vec<String>,
    #[serde(default)]
    pub seed: u64,
}

fn default_missed() -> f64 {
    0.25
}

fn default_transferred() -> f64 {
    0.1
}

fn default_outbound() -> f64 {
    0.3
}

/// One call written, as a test needs it to know whose it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SeededCall {
    pub id: i64,
    pub direction: String,
    pub number_id: i64,
    pub started_at: i64,
    /// Who has it at the end (`None`: nobody answered).
    pub user_id: Option<i64>,
    pub transferred_by: Option<i64>,
    pub transferred_to: Option<i64>,
    pub raw_digits: String,
    pub voicemail: bool,
}

impl SeededCall {
    /// Whether the call is `user`'s to log, by Aircall's word: on one of
    /// their numbers, and theirs (answered or transferred to them) or nobody's.
    pub fn belongs_to(&self, user: i64, numbers: &[i64]) -> bool {
        numbers.contains(&self.number_id)
            && (self.user_id.is_none() || self.user_id == Some(user) || self.transferred_to == Some(user))
    }
}

/// Writes the history; returns the calls, oldest first.
pub fn write(shared: &Shared, plan: &CompanyHistory) -> Result<Vec<SeededCall>, String> {
    if plan.to < plan.from {
        return Err("`to` is before `from`".into());
    }
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut world = shared.world();
    let aircall = &mut world.aircall;
    let numbers: Vec<i64> = if plan.number_ids.is_empty() {
        aircall.numbers.iter().filter_map(|n| n["id"].as_i64()).collect()
    } else {
        plan.number_ids.clone()
    };
    if let Some(unknown) = numbers
        .iter()
        .find(|id| !aircall.numbers.iter().any(|n| n["id"].as_i64() == Some(**id)))
    {
        return Err(format!("no Aircall number {unknown}"));
    }
    let span = (plan.to - plan.from).max(0) as f64;
    let mut written = Vec::with_capacity(plan.calls as usize);
    for i in 0..plan.calls {
        let number_id = numbers[rng.gen_range(0..numbers.len())];
        let on_number: Vec<i64> = aircall
            .users
            .iter()
            .filter(|u| u.numbers.contains(&number_id))
            .filter(|u| plan.users.is_empty() || plan.users.contains(&u.id))
            .map(|u| u.id)
            .collect();
        let started_at = plan.from + (span * f64::from(i) / f64::from(plan.calls.max(1))) as i64;
        let raw_digits = if plan.external_numbers.is_empty() {
            format!("+44 7700 9{:05}", rng.gen_range(0..100_000))
        } else {
            plan.external_numbers[rng.gen_range(0..plan.external_numbers.len())].clone()
        };
        let pick = |rng: &mut StdRng, not: Option<i64>| {
            let choices: Vec<i64> = on_number.iter().copied().filter(|u| Some(*u) != not).collect();
            (!choices.is_empty()).then(|| choices[rng.gen_range(0..choices.len())])
        };
        let outbound = rng.gen_bool(plan.outbound.clamp(0.0, 1.0)) && !on_number.is_empty();
        let answerer = pick(&mut rng, None);
        let missed = !outbound && (answerer.is_none() || rng.gen_bool(plan.missed.clamp(0.0, 1.0)));
        let voicemail = missed && rng.gen_bool(0.3);
        let (mut user_id, mut transferred_by, mut transferred_to) = (None, None, None);
        if !missed {
            user_id = answerer;
            if !outbound && rng.gen_bool(plan.transferred.clamp(0.0, 1.0)) {
                if let Some(to) = pick(&mut rng, answerer) {
                    transferred_by = answerer;
                    transferred_to = Some(to);
                    user_id = Some(to);
                }
            }
        }
        let ring = rng.gen_range(5..40);
        let talk = rng.gen_range(20..900);
        let answered_at = (!missed).then_some(started_at + ring);
        // Every call has ended by `to`: it is history.
        let ended_at =
            (started_at + ring + if missed { 0 } else { talk }).min(plan.to.max(started_at + ring));
        let id = aircall.next_id();
        let call = Call {
            id,
            direction: if outbound { "outbound" } else { "inbound" }.to_owned(),
            started_at,
            answered_at,
            ended_at: Some(ended_at),
            raw_digits: raw_digits.clone(),
            number_id,
            user_id,
            voicemail: voicemail.then(|| format!("https://voicemail.aircall.io/sandbox/{id}.mp3")),
            recording: (!missed).then(|| format!("https://recording.aircall.io/sandbox/{id}.mp3")),
            missed_call_reason: missed.then(|| "agents_did_not_answer".to_owned()),
            tags: Vec::new(),
            comments: Vec::new(),
            transferred_to,
            transferred_by,
            ai: None,
        };
        aircall.calls.insert(id, call);
        written.push(SeededCall {
            id,
            direction: if outbound { "outbound" } else { "inbound" }.to_owned(),
            number_id,
            started_at,
            user_id,
            transferred_by,
            transferred_to,
            raw_digits,
            voicemail,
        });
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;

    #[test]
    fn a_busy_history_mixes_ring_groups_colleagues_transfers_and_misses_reproducibly() {
        let config = SandboxConfig::default();
        let shared = Shared::new(&config, "127.0.0.1:1".parse().unwrap());
        let plan = CompanyHistory {
            from: 1_000_000,
            to: 1_000_000 + 3 * 86_400,
            calls: 3_000,
            number_ids: vec![],
            users: vec![],
            missed: default_missed(),
            transferred: default_transferred(),
            outbound: default_outbound(),
            external_numbers: vec![],
            seed: 7,
        };
        let calls = write(&shared, &plan).unwrap();
        assert_eq!(calls.len(), 3_000);
        assert!(calls.windows(2).all(|w| w[0].started_at <= w[1].started_at));
        let transfers = calls.iter().filter(|c| c.transferred_to.is_some()).count();
        let missed = calls.iter().filter(|c| c.user_id.is_none()).count();
        let by_colleagues = calls
            .iter()
            .filter(|c| c.number_id == 1001 && c.user_id.is_some_and(|u| u != 2001))
            .count();
        assert!(
            transfers > 50 && missed > 300 && by_colleagues > 500,
            "{transfers} {missed} {by_colleagues}"
        );
        let again = Shared::new(&config, "127.0.0.1:1".parse().unwrap());
        let replay: Vec<_> = write(&again, &plan).unwrap();
        assert_eq!(
            replay
                .iter()
                .map(|c| (c.number_id, c.user_id))
                .collect::<Vec<_>>(),
            calls.iter().map(|c| (c.number_id, c.user_id)).collect::<Vec<_>>(),
            "the same seed, the same history"
        );
    }
}
