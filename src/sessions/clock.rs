//! The session clock, as pure rules: when the plan's minutes run, when both
//! sides are warned, and when the call closes. The server fixes the four
//! moments once, when the clock starts; the room (server and browser) reads the
//! phase from them and the time now, so a test can inject any clock.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The warning comes this many plan minutes before the end (two minutes, or
/// two scaled minutes when `SESSION_SECONDS_PER_MINUTE` shortens them).
pub const WARNING_MINUTES: i64 = 2;

/// The four moments of a started clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockTimes {
    pub started_at: DateTime<Utc>,
    pub warns_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The end plus the grace period: the call closes, the chat stays open.
    pub call_closes_at: DateTime<Utc>,
}

/// Where a session's clock stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum ClockPhase {
    /// Not started: waiting for both sides to be in the room.
    Waiting,
    /// The plan's minutes are running.
    Running { secs_left: i64 },
    /// Less than the warning time is left.
    Warning { secs_left: i64 },
    /// The time is up; the call closes when the grace period ends.
    Grace { secs_to_close: i64 },
    /// The call has closed (the chat stays open for the written diagnosis).
    Over,
}

impl ClockPhase {
    /// Whether a call may still run.
    pub fn call_allowed(self) -> bool {
        !matches!(self, ClockPhase::Over)
    }
}

/// The moments of a clock started at `start` for a plan of `minutes`, each
/// minute lasting `secs_per_minute` seconds, with `grace_secs` before the call closes.
pub fn schedule(start: DateTime<Utc>, minutes: i32, secs_per_minute: u32, grace_secs: u32) -> ClockTimes {
    let minute = i64::from(secs_per_minute.max(1));
    let total = i64::from(minutes.max(1)) * minute;
    let warning = (WARNING_MINUTES * minute).min(total);
    let ends_at = start + Duration::seconds(total);
    ClockTimes {
        started_at: start,
        warns_at: ends_at - Duration::seconds(warning),
        ends_at,
        call_closes_at: ends_at + Duration::seconds(i64::from(grace_secs)),
    }
}

/// Seconds from `now` until `then`, rounded up (a clock showing 0:00 means time is up).
fn secs_until(now: DateTime<Utc>, then: DateTime<Utc>) -> i64 {
    let ms = (then - now).num_milliseconds();
    (ms + 999).div_euclid(1000)
}

/// The phase at `now`.
pub fn phase(clock: Option<&ClockTimes>, now: DateTime<Utc>) -> ClockPhase {
    let Some(c) = clock else { return ClockPhase::Waiting };
    if now >= c.call_closes_at {
        ClockPhase::Over
    } else if now >= c.ends_at {
        ClockPhase::Grace { secs_to_close: secs_until(now, c.call_closes_at) }
    } else if now >= c.warns_at {
        ClockPhase::Warning { secs_left: secs_until(now, c.ends_at) }
    } else {
        // A clock a little behind the server's never shows more than the plan's time.
        let total = (c.ends_at - c.started_at).num_seconds();
        ClockPhase::Running { secs_left: secs_until(now, c.ends_at).min(total) }
    }
}

/// `m:ss` for a count of seconds (never negative).
pub fn mm_ss(secs: i64) -> String {
    let s = secs.max(0);
    format!("{}:{:02}", s / 60, s % 60)
}

/// How long a session ran, as people say it: "14 min 5 s", "1 h 2 min".
pub fn human_length(secs: i64) -> String {
    let s = secs.max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, min, 0) => format!("{min} min"),
        (0, min, sec) => format!("{min} min {sec} s"),
        (h, min, _) => format!("{h} h {min} min"),
    }
}

/// The sentence the room shows for a phase.
pub fn describe(phase: ClockPhase, includes_call: bool) -> String {
    match phase {
        ClockPhase::Waiting => "The clock starts when you are both in the room.".into(),
        ClockPhase::Running { secs_left } => format!("{} left", mm_ss(secs_left)),
        ClockPhase::Warning { secs_left } => format!("{} left: about two minutes to go", mm_ss(secs_left)),
        ClockPhase::Grace { secs_to_close } if includes_call => {
            format!("Time is up. The call closes in {}.", mm_ss(secs_to_close))
        }
        ClockPhase::Grace { .. } | ClockPhase::Over if !includes_call => {
            "Time is up. The chat stays open for the written diagnosis.".into()
        }
        ClockPhase::Grace { .. } | ClockPhase::Over => {
            "Time is up. The call has closed; the chat stays open for the written diagnosis.".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
    }

    #[test]
    fn a_fifteen_minute_plan_warns_at_thirteen_and_closes_after_the_grace() {
        let c = schedule(t0(), 15, 60, 60);
        assert_eq!(c.warns_at, t0() + Duration::minutes(13));
        assert_eq!(c.ends_at, t0() + Duration::minutes(15));
        assert_eq!(c.call_closes_at, t0() + Duration::minutes(16));
    }

    #[test]
    fn the_phases_follow_each_other_with_an_injected_clock() {
        let c = schedule(t0(), 15, 60, 60);
        let at = |s: i64| phase(Some(&c), t0() + Duration::seconds(s));
        assert_eq!(phase(None, t0()), ClockPhase::Waiting);
        assert_eq!(
            phase(Some(&c), t0() - Duration::milliseconds(700)),
            ClockPhase::Running { secs_left: 900 }
        );
        assert_eq!(at(0), ClockPhase::Running { secs_left: 900 });
        assert_eq!(at(1), ClockPhase::Running { secs_left: 899 });
        assert_eq!(at(779), ClockPhase::Running { secs_left: 121 });
        assert_eq!(at(780), ClockPhase::Warning { secs_left: 120 });
        assert_eq!(at(899), ClockPhase::Warning { secs_left: 1 });
        assert_eq!(at(900), ClockPhase::Grace { secs_to_close: 60 });
        assert_eq!(at(959), ClockPhase::Grace { secs_to_close: 1 });
        assert_eq!(at(960), ClockPhase::Over);
        assert_eq!(at(100_000), ClockPhase::Over);
        assert!(at(959).call_allowed());
        assert!(!at(960).call_allowed());
    }

    #[test]
    fn part_seconds_round_up_so_zero_means_time_is_up() {
        let c = schedule(t0(), 1, 60, 0);
        let p = phase(Some(&c), t0() + Duration::milliseconds(59_001));
        assert_eq!(p, ClockPhase::Warning { secs_left: 1 });
        assert_eq!(phase(Some(&c), t0() + Duration::seconds(60)), ClockPhase::Over);
    }

    #[test]
    fn shortened_minutes_scale_the_warning_too() {
        let c = schedule(t0(), 15, 2, 3);
        assert_eq!(c.ends_at, t0() + Duration::seconds(30));
        assert_eq!(c.warns_at, t0() + Duration::seconds(26));
        assert_eq!(c.call_closes_at, t0() + Duration::seconds(33));
    }

    #[test]
    fn a_plan_shorter_than_the_warning_warns_from_the_start() {
        let c = schedule(t0(), 1, 60, 30);
        assert_eq!(c.warns_at, t0());
        assert_eq!(phase(Some(&c), t0()), ClockPhase::Warning { secs_left: 60 });
    }

    #[test]
    fn descriptions_say_what_happens() {
        assert_eq!(mm_ss(125), "2:05");
        assert_eq!(human_length(845), "14 min 5 s");
        assert_eq!(human_length(900), "15 min");
        assert_eq!(human_length(42), "42 s");
        assert_eq!(human_length(3720), "1 h 2 min");
        assert_eq!(mm_ss(-3), "0:00");
        assert!(describe(ClockPhase::Grace { secs_to_close: 30 }, true).contains("call closes in 0:30"));
        assert!(!describe(ClockPhase::Over, false).contains("call"));
        assert!(describe(ClockPhase::Over, true).contains("call has closed"));
    }

    proptest! {
        #[test]
        fn moments_are_ordered_and_phases_never_go_back(
            minutes in 1i32..480, spm in 1u32..120, grace in 0u32..600, steps in proptest::collection::vec(0i64..5_000, 1..40)
        ) {
            let c = schedule(t0(), minutes, spm, grace);
            prop_assert!(c.started_at <= c.warns_at && c.warns_at <= c.ends_at && c.ends_at <= c.call_closes_at);
            prop_assert_eq!((c.ends_at - c.started_at).num_seconds(), i64::from(minutes) * i64::from(spm));
            let rank = |p: ClockPhase| match p {
                ClockPhase::Waiting => 0, ClockPhase::Running { .. } => 1, ClockPhase::Warning { .. } => 2,
                ClockPhase::Grace { .. } => 3, ClockPhase::Over => 4,
            };
            let mut now = t0();
            let mut last = rank(phase(Some(&c), now));
            for s in steps {
                now += Duration::seconds(s);
                let r = rank(phase(Some(&c), now));
                prop_assert!(r >= last);
                last = r;
            }
        }
    }
}
