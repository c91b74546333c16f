//! What the Aircall crate hands out about a call, in the core's terms: a
//! call ringing here and a call that is over, each with its other party
//! already parsed, so that no consumer reads Aircall's wire `Call` (or
//! re-parses its `raw_digits`).

use crate::final_call::final_call;
use crate::model::{self, Call, Insights};
use callcard_core::activity::{Direction, FinalCall};
use callcard_core::phone::{parse_raw_digits, Caller, E164};

/// A call that started ringing here: what the card needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingingCall {
    pub id: i64,
    pub direction: Direction,
    /// The caller (or the person called); `None` for a hidden or unreadable
    /// number, which no CRM record can match.
    pub other_party: Option<E164>,
}

impl RingingCall {
    pub fn of(call: &Call) -> Self {
        Self {
            id: call.id,
            direction: direction(&call.direction),
            other_party: other_party(&call.raw_digits),
        }
    }
}

/// A call that is over, as its log is written.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedCall {
    pub other_party: Option<E164>,
    pub log: FinalCall,
}

impl FinishedCall {
    /// The call as Aircall last told it, with its AI data when it is there.
    pub fn of(call: &Call, insights: Option<&Insights>) -> Self {
        Self {
            other_party: other_party(&call.raw_digits),
            log: final_call(call, insights),
        }
    }

    pub fn id(&self) -> i64 {
        self.log.call_id
    }

    /// The call as it rang, for a card made after the fact (a call caught
    /// up after an absence, or one that rang while no CRM was ready).
    pub fn as_rung(&self) -> RingingCall {
        RingingCall {
            id: self.log.call_id,
            direction: self.log.direction,
            other_party: self.other_party.clone(),
        }
    }
}

fn direction(direction: &model::Direction) -> Direction {
    match direction {
        model::Direction::Outbound => Direction::Outbound,
        _ => Direction::Inbound,
    }
}

/// The other party of a call or an SMS, from Aircall's digits as written.
pub fn other_party(raw_digits: &str) -> Option<E164> {
    match parse_raw_digits(raw_digits) {
        Ok(Caller::Number(number)) => Some(number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(json: serde_json::Value) -> Call {
        serde_json::from_value(json).expect("a call")
    }

    #[test]
    fn a_ringing_call_carries_its_parsed_other_party_and_direction() {
        let ringing = RingingCall::of(&call(serde_json::json!({
            "id": 7, "direction": "outbound", "status": "initial", "raw_digits": "+33 6 12 34 56 78"
        })));
        assert_eq!(ringing.id, 7);
        assert_eq!(ringing.direction, Direction::Outbound);
        assert_eq!(
            ringing.other_party.map(|n| n.to_string()),
            Some("+33612345678".into())
        );
        let hidden = RingingCall::of(&call(serde_json::json!({
            "id": 8, "direction": "inbound", "status": "initial", "raw_digits": "anonymous"
        })));
        assert_eq!((hidden.direction, hidden.other_party), (Direction::Inbound, None));
    }

    #[test]
    fn a_finished_call_rings_again_as_it_rang() {
        let finished = FinishedCall::of(
            &call(serde_json::json!({
                "id": 9, "direction": "inbound", "status": "done", "started_at": 1,
                "ended_at": 30, "raw_digits": "+33 6 12 34 56 78"
            })),
            None,
        );
        assert_eq!(finished.id(), 9);
        let rung = finished.as_rung();
        assert_eq!((rung.id, rung.direction), (9, Direction::Inbound));
        assert_eq!(rung.other_party, finished.other_party);
    }
}
