//! The one time type of the family, and the clock stores read it from.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset, format_description::FormatItem, macros::format_description};

use crate::error::StoreError;

/// A UTC instant truncated to whole microseconds.
///
/// Every store keeps microseconds (PostgreSQL `timestamptz`, the SQLite text
/// encoding `YYYY-MM-DD HH:MM:SS.ffffff`), so truncating on construction makes
/// a value written and read back compare equal on every backend.
///
/// ```
/// use fullauth_api::Timestamp;
/// use std::time::Duration;
/// let t = Timestamp::from_unix_micros(1_700_000_000_123_456).unwrap();
/// assert_eq!(t.to_naive_utc_string(), "2023-11-14 22:13:20.123456");
/// assert_eq!(Timestamp::parse_naive_utc("2023-11-14 22:13:20.123456").unwrap(), t);
/// assert!(t + Duration::from_secs(1) > t);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

const NAIVE: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
const NAIVE_LOOSE: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]");

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// Converts any offset date-time: moved to UTC and truncated to microseconds.
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        let dt = dt.to_offset(UtcOffset::UTC);
        let micros = dt.nanosecond() / 1_000 * 1_000;
        Timestamp(dt.replace_nanosecond(micros).unwrap_or(dt))
    }

    /// The instant `micros` microseconds after the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Result<Self, StoreError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .map(Timestamp)
            .map_err(|e| StoreError::invalid("timestamp", e.to_string()))
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        // In range by construction: every Timestamp came from whole microseconds
        // inside time's supported years, which fit in i64 microseconds.
        (self.0.unix_timestamp_nanos() / 1_000) as i64
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The underlying UTC date-time.
    pub fn to_datetime(self) -> OffsetDateTime {
        self.0
    }

    /// `self + d`, or an error when the result leaves the supported range.
    pub fn checked_add(self, d: Duration) -> Result<Self, StoreError> {
        self.0
            .checked_add(
                time::Duration::try_from(d)
                    .map_err(|e| StoreError::invalid("duration", e.to_string()))?,
            )
            .map(Self::from_datetime)
            .ok_or_else(|| StoreError::invalid("duration", "the resulting time is out of range"))
    }

    /// `self - d`, or an error when the result leaves the supported range.
    pub fn checked_sub(self, d: Duration) -> Result<Self, StoreError> {
        self.0
            .checked_sub(
                time::Duration::try_from(d)
                    .map_err(|e| StoreError::invalid("duration", e.to_string()))?,
            )
            .map(Self::from_datetime)
            .ok_or_else(|| StoreError::invalid("duration", "the resulting time is out of range"))
    }

    /// How long from `self` until `later`; zero when `later` is not after `self`.
    pub fn until(self, later: Timestamp) -> Duration {
        let micros = later.unix_micros().saturating_sub(self.unix_micros());
        Duration::from_micros(u64::try_from(micros).unwrap_or(0))
    }

    /// The SQLite text encoding: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC wall clock,
    /// no offset, always six fractional digits (what SQLAlchemy writes, and what
    /// sorts correctly as text).
    pub fn to_naive_utc_string(self) -> String {
        // Formatting a UTC date-time with this description cannot fail for
        // years 0..=9999; fall back to RFC 3339 rather than panic outside it.
        self.0.format(NAIVE).unwrap_or_else(|_| self.0.to_string())
    }

    /// Parses the SQLite text encoding (naive, taken as UTC). Accepts 0–9
    /// fractional digits and a `T` separator too, so rows written by other
    /// tools are read; digits beyond microseconds are truncated.
    pub fn parse_naive_utc(s: &str) -> Result<Self, StoreError> {
        if let Some(t) = Self::parse_canonical(s.as_bytes()) {
            return Ok(t);
        }
        let s = s.trim();
        let norm;
        let s = if s.len() > 10 && s.as_bytes()[10] == b'T' {
            norm = format!("{} {}", &s[..10], &s[11..]);
            norm.as_str()
        } else {
            s
        };
        let s = s.strip_suffix('Z').unwrap_or(s);
        time::PrimitiveDateTime::parse(s, NAIVE_LOOSE)
            .map(|p| Self::from_datetime(p.assume_utc()))
            .map_err(|e| StoreError::invalid("timestamp", format!("`{s}`: {e}")))
    }
}

impl Timestamp {
    /// The exact form [`to_naive_utc_string`](Self::to_naive_utc_string)
    /// writes (`YYYY-MM-DD HH:MM:SS.ffffff`), read without the general
    /// parser: the form every row written by a store has. `None` for
    /// anything else, which the general parser then reads or refuses.
    fn parse_canonical(b: &[u8]) -> Option<Self> {
        if b.len() != 26
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b' '
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
        let date = time::Date::from_calendar_date(
            i32::try_from(num(0..4)?).ok()?,
            month,
            u8::try_from(num(8..10)?).ok()?,
        )
        .ok()?;
        let clock = time::Time::from_hms_micro(
            u8::try_from(num(11..13)?).ok()?,
            u8::try_from(num(14..16)?).ok()?,
            u8::try_from(num(17..19)?).ok()?,
            num(20..26)?,
        )
        .ok()?;
        Some(Self::from_datetime(
            time::PrimitiveDateTime::new(date, clock).assume_utc(),
        ))
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(dt: OffsetDateTime) -> Self {
        Timestamp::from_datetime(dt)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = StoreError;
    /// Parses RFC 3339 (any offset) or the naive UTC text encoding.
    fn try_from(s: String) -> Result<Self, StoreError> {
        match OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339) {
            Ok(dt) => Ok(Timestamp::from_datetime(dt)),
            Err(_) => Timestamp::parse_naive_utc(&s),
        }
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    /// Saturates at the end of the supported range instead of panicking.
    fn add(self, d: Duration) -> Timestamp {
        self.checked_add(d)
            .unwrap_or(Timestamp(time::PrimitiveDateTime::MAX.assume_utc()))
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    /// Saturates at the start of the supported range instead of panicking.
    fn sub(self, d: Duration) -> Timestamp {
        self.checked_sub(d)
            .unwrap_or(Timestamp(time::PrimitiveDateTime::MIN.assume_utc()))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with microseconds, e.g. `2023-11-14T22:13:20.123456Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_naive_utc_string().replacen(' ', "T", 1);
        write!(f, "{s}Z")
    }
}

/// Where a store reads "now" from.
///
/// The default is the system clock. Tests of time-dependent behaviour (expiry,
/// TTLs, lockout windows) can give a store a [`Clock::manual`] clock and move it
/// with [`Clock::advance`] instead of sleeping. On the system clock `advance`
/// sleeps for real, so a test written against `Clock` runs on both.
///
/// ```
/// # tokio_test_shim::block_on(async {
/// use fullauth_api::{Clock, Timestamp};
/// use std::time::Duration;
/// let clock = Clock::manual(Timestamp::from_unix_micros(0).unwrap());
/// clock.advance(Duration::from_secs(90)).await;
/// assert_eq!(clock.now().unix_seconds(), 90);
/// # });
/// # mod tokio_test_shim { pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #   tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f) } }
/// ```
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<Timestamp>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock that stands still at `start` until advanced.
    pub fn manual(start: Timestamp) -> Self {
        Clock(Some(Arc::new(Mutex::new(start))))
    }

    /// True for a [`Clock::manual`] clock.
    pub fn is_manual(&self) -> bool {
        self.0.is_some()
    }

    /// The current time of this clock.
    pub fn now(&self) -> Timestamp {
        match &self.0 {
            None => Timestamp::now(),
            Some(m) => *m.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Moves a manual clock forward by `d`; sleeps for `d` on the system clock.
    pub async fn advance(&self, d: Duration) {
        match &self.0 {
            None => tokio::time::sleep(d).await,
            Some(m) => {
                let mut t = m.lock().unwrap_or_else(|p| p.into_inner());
                *t = *t + d;
            }
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::System"),
            Some(_) => write!(f, "Clock::Manual({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_reads_as_the_general_parser_reads_it() {
        for s in [
            "2026-11-30 04:59:07.123456",
            "1970-01-01 00:00:00.000000",
            "2024-02-29 23:59:59.999999",
            "9999-12-31 23:59:59.000001",
        ] {
            let fast = Timestamp::parse_canonical(s.as_bytes()).unwrap();
            let general = time::PrimitiveDateTime::parse(s, NAIVE_LOOSE)
                .unwrap()
                .assume_utc();
            assert_eq!(fast, Timestamp::from_datetime(general), "{s}");
            assert_eq!(fast.to_naive_utc_string(), s);
        }
        // Not the canonical form (or no date at all): left to the general
        // parser, which reads the loose forms and refuses the rest.
        for s in [
            "2023-02-29 00:00:00.000000",
            "2026-13-01 00:00:00.000000",
            "2026-11-30 24:00:00.000000",
            "2026-11-30T04:59:07.123456",
            "2026-11-30 04:59:07.12345",
            "2026-11-30 04:59:07.1234567",
            "2026-11-3a 04:59:07.123456",
            "+026-11-30 04:59:07.123456",
        ] {
            assert!(Timestamp::parse_canonical(s.as_bytes()).is_none(), "{s}");
        }
        assert!(Timestamp::parse_naive_utc("2023-02-29 00:00:00.000000").is_err());
        assert!(Timestamp::parse_naive_utc("2026-11-30T04:59:07.123456").is_ok());
    }

    #[test]
    fn truncates_to_micros_and_round_trips_text() {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let t = Timestamp::from_datetime(dt);
        assert_eq!(t.unix_micros(), 1_700_000_000_123_456);
        let s = t.to_naive_utc_string();
        assert_eq!(s, "2023-11-14 22:13:20.123456");
        assert_eq!(Timestamp::parse_naive_utc(&s).unwrap(), t);
        assert_eq!(
            Timestamp::parse_naive_utc("2023-11-14T22:13:20.123456Z").unwrap(),
            t
        );
        assert_eq!(
            Timestamp::parse_naive_utc("2023-11-14 22:13:20")
                .unwrap()
                .unix_micros(),
            1_700_000_000_000_000
        );
        assert!(Timestamp::parse_naive_utc("yesterday").is_err());
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::now();
        assert!(t + Duration::from_secs(u64::MAX) > t);
        assert!(t - Duration::from_secs(u64::MAX) < t);
        assert_eq!(t.until(t - Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(t.until(t + Duration::from_secs(5)), Duration::from_secs(5));
    }
}
