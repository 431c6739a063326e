//! How far one run may move a version checkpoint. A row whose version is absurd (`i64::MAX`, a
//! service's bug or a hostile answer) would otherwise become the watermark, and every later run would
//! ask for versions above it and read nothing, for good. Real row versions grow by the writes a
//! database takes; no run meets more than [`DEFAULT_MAX_VERSION_JUMP`] of them.

/// `worker.max_version_jump`'s default: 10^15 versions in one run. A SQL Server rowversion (Business
/// Central's `RowVersionNumber`, Dataverse's `versionnumber`) counts writes: at a million a second
/// that is thirty years.
pub const DEFAULT_MAX_VERSION_JUMP: i64 = 1_000_000_000_000_000;

/// A page would move the checkpoint further than the bound allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the source's row version jumped from {from} to {to} in one run, more than \
     worker.max_version_jump ({max}) allows: a row carries a version no real source reaches, and \
     taken as the checkpoint it would hide every later change; nothing of this page was written \
     (fix the row at the source, or raise worker.max_version_jump if the jump is real)"
)]
pub struct VersionJump {
    pub from: i64,
    pub to: i64,
    pub max: i64,
}

/// Whether a run that started at version `from` may move its checkpoint to `to`.
pub fn check(from: i64, to: i64, max: i64) -> Result<(), VersionJump> {
    if (i128::from(to) - i128::from(from.max(0))) > i128::from(max) {
        return Err(VersionJump { from, to, max });
    }
    Ok(())
}

/// How far past the present a last-modified time may lie before it counts as absurd: clocks differ,
/// not by a day.
pub const MAX_FUTURE_MICROS: i64 = 24 * 3_600 * 1_000_000;

/// A page would move a timestamp checkpoint (`source.modified`) past the present.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the source's last-modified time reached {at}, more than a day past the present ({now}): a row \
     carries a time no real change has, and taken as the checkpoint it would hide every later change; \
     nothing of this page was written (fix the row at the source)"
)]
pub struct FutureTime {
    pub at: String,
    pub now: String,
}

/// Whether a timestamp checkpoint may move to `to` (Unix microseconds) when it is `now`.
pub fn check_time(to: i64, now: chrono::DateTime<chrono::Utc>) -> Result<(), FutureTime> {
    if to.saturating_sub(now.timestamp_micros()) > MAX_FUTURE_MICROS {
        let shown = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| micros.to_string())
        };
        return Err(FutureTime {
            at: shown(to),
            now: shown(now.timestamp_micros()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_past_tomorrow_is_refused_today_is_not() {
        let now = chrono::Utc::now();
        assert!(check_time(now.timestamp_micros(), now).is_ok());
        assert!(check_time(now.timestamp_micros() + MAX_FUTURE_MICROS / 2, now).is_ok());
        let far = chrono::DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").unwrap();
        assert!(check_time(far.timestamp_micros(), now).is_err());
    }

    #[test]
    fn a_jump_past_the_bound_is_refused_a_real_one_is_not() {
        let max = DEFAULT_MAX_VERSION_JUMP;
        assert!(
            check(0, 48_000_000_000, max).is_ok(),
            "a first load of a big tenant"
        );
        assert!(check(1_000, 1_000 + max, max).is_ok());
        assert_eq!(
            check(1_000, i64::MAX, max),
            Err(VersionJump {
                from: 1_000,
                to: i64::MAX,
                max
            })
        );
        assert!(check(i64::MIN, i64::MAX, 10).is_err(), "no overflow");
        let message = check(0, i64::MAX, max).unwrap_err().to_string();
        assert!(message.contains("worker.max_version_jump"), "{message}");
    }
}
