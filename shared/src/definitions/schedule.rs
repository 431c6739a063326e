//! Checking a schedule before it is stored: a cron expression with seconds, that fires at all, and not
//! more often than once a minute unless the integration says it means to (a schedule of every second is
//! almost always a cron written without its seconds field).

use std::str::FromStr;

use chrono::Utc;

/// The shortest gap between two scheduled runs an integration gets without `allow_frequent = true`.
pub const MIN_INTERVAL_SECS: i64 = 60;

/// Why `expression` is not a schedule Ferry should store, or `None` when it is one.
pub fn problem(expression: &str, allow_frequent: bool) -> Option<String> {
    let schedule = match cron::Schedule::from_str(expression) {
        Ok(schedule) => schedule,
        Err(e) if expression.split_whitespace().count() == 5 => {
            return Some(format!(
                "Ferry's cron has a seconds field first; {expression:?} has 5 fields, so at second 0 \
                 it reads \"0 {expression}\" ({})",
                reworded(&e.to_string())
            ));
        }
        Err(e) => {
            return Some(format!(
                "not a cron expression with seconds (e.g. \"0 */5 * * * *\"): {}",
                reworded(&e.to_string())
            ));
        }
    };
    let next: Vec<_> = schedule.upcoming(Utc).take(3).collect();
    if next.is_empty() {
        return Some(format!(
            "{expression:?} never fires: no date matches it (e.g. the 30th of February)"
        ));
    }
    let gap = next.windows(2).map(|w| (w[1] - w[0]).num_seconds()).min();
    match gap {
        Some(gap) if gap < MIN_INTERVAL_SECS && !allow_frequent => Some(format!(
            "{expression:?} fires every {gap} s, more often than once a minute; a cron written \
             without its seconds field fires every second — write e.g. \"0 {}\", or set \
             allow_frequent = true if this is meant",
            expression
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
        )),
        _ => None,
    }
}

/// The cron crate's range errors say "less than 59" of a field whose largest value is 59; this says
/// "at most 59, not 60". Other errors pass unchanged.
fn reworded(error: &str) -> String {
    let Some((head, rest)) = error.split_once(" must be ") else {
        return error.to_string();
    };
    let field = head.rsplit(": ").next().unwrap_or(head);
    let (bound, given) = match rest.split_once(". ('") {
        Some((bound, given)) => (bound, given.trim_end_matches("' specified.)")),
        None => return error.to_string(),
    };
    let limit = if let Some(max) = bound.strip_prefix("less than ") {
        format!("at most {max}")
    } else if let Some(min) = bound.strip_prefix("greater than or equal to ") {
        format!("at least {min}")
    } else {
        return error.to_string();
    };
    format!("{} must be {limit}, not {given}", field.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_fires_at_most_once_a_minute_unless_allowed() {
        assert_eq!(problem("0 */5 * * * *", false), None);
        assert_eq!(problem("15 * * * * *", false), None);
        let every_second = problem("* * * * * *", false).unwrap();
        assert!(
            every_second.contains("every 1 s") && every_second.contains("allow_frequent"),
            "{every_second}"
        );
        assert_eq!(problem("* * * * * *", true), None);
        assert!(
            problem("*/2 * * * * *", false)
                .unwrap()
                .contains("every 2 s")
        );
    }

    #[test]
    fn five_fields_are_answered_with_the_six_field_version() {
        let message = problem("*/5 * * * *", false).unwrap();
        assert!(message.contains("\"0 */5 * * * *\""), "{message}");
    }

    #[test]
    fn a_schedule_that_never_fires_is_refused() {
        let message = problem("0 0 0 30 2 *", false).unwrap();
        assert!(message.contains("never fires"), "{message}");
    }

    #[test]
    fn a_value_out_of_range_is_named_with_the_fields_real_bounds() {
        let minutes = problem("0 60 * * * *", false).unwrap();
        assert!(
            minutes.contains("minutes must be at most 59, not 60"),
            "{minutes}"
        );
        let hours = problem("0 0 24 * * *", false).unwrap();
        assert!(
            hours.contains("hours must be at most 23, not 24"),
            "{hours}"
        );
        let day = problem("0 0 0 0 * *", false).unwrap();
        assert!(
            day.contains("days of month must be at least 1, not 0"),
            "{day}"
        );
    }

    #[test]
    fn garbage_is_not_a_schedule() {
        assert!(
            problem("every five minutes", false)
                .unwrap()
                .starts_with("not a cron")
        );
    }
}
