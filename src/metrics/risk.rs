//! Service-level risk of an open request (the portal's work queue): the measure whose clock
//! runs in the request's state and how long is left before its limit. An estimate from the
//! current state alone: the exact interval is measured when it ends (`Timeline`).

use time::OffsetDateTime;

use super::{Measure, ServiceLevels};
use crate::workflow::{Priority, State};

/// The measure whose clock runs while a request is in `state`; `None` where the clock is
/// stopped (the TLD must act) or the state is final.
pub fn running_measure(state: State) -> Option<Measure> {
    Some(match state {
        State::PreReview => Measure::Acknowledge,
        State::TechnicalCheck => Measure::FirstCheck,
        State::ManualReview | State::DelegationEvaluation => Measure::StaffReview,
        State::SupplementalCheck => Measure::SupplementalCheck,
        State::Implementation => Measure::Publication,
        _ => return None,
    })
}

/// The nearest service level an open request may breach and the seconds left before it does
/// (negative: breached already). An emergency also counts its desk time since submission
/// against `emergency-desk` (an upper bound: time with the TLD is included).
pub fn time_left(
    levels: &ServiceLevels,
    state: State,
    priority: Priority,
    state_since: OffsetDateTime,
    submitted_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<(Measure, i64)> {
    let left = |measure: Measure, since: OffsetDateTime| {
        levels.of(measure).map(|level| {
            let limit = i64::try_from(level.limit_secs).unwrap_or(i64::MAX);
            (measure, limit.saturating_sub((now - since).whole_seconds()))
        })
    };
    let by_state = running_measure(state).and_then(|m| left(m, state_since));
    let emergency = (priority == Priority::Emergency && !state.is_final())
        .then(|| left(Measure::EmergencyDesk, submitted_at))
        .flatten();
    match (by_state, emergency) {
        (Some(a), Some(b)) => Some(if b.1 < a.1 { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_running_clock_decides_the_time_left() {
        let levels = ServiceLevels::default();
        let since = datetime!(2026-12-01 00:00 UTC);
        let now = datetime!(2026-12-03 00:00 UTC);
        // Manual review: 5 days, 2 used.
        assert_eq!(
            time_left(
                &levels,
                State::ManualReview,
                Priority::Normal,
                since,
                since,
                now
            ),
            Some((Measure::StaffReview, 3 * 86_400))
        );
        // The TLD must act: no clock.
        assert_eq!(
            time_left(
                &levels,
                State::AwaitingInfo,
                Priority::Normal,
                since,
                since,
                now
            ),
            None
        );
        // An emergency is held to 12 hours of desk time: breached 36 hours ago.
        assert_eq!(
            time_left(
                &levels,
                State::ManualReview,
                Priority::Emergency,
                since,
                since,
                now
            ),
            Some((Measure::EmergencyDesk, 12 * 3600 - 2 * 86_400))
        );
    }
}
