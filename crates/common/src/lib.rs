//! Shared vocabulary for every tarn crate: AWS limits, the account id, the clock.
//!
//! Nothing here does I/O; a crate that needs a number AWS documents finds it in [`limits`].

pub mod limits;

use std::time::{SystemTime, UNIX_EPOCH};

/// The fixed local account id that appears in every ARN and owner field.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// Wall-clock time in nanoseconds since the Unix epoch.
///
/// Kept behind one function so that a simulated clock can replace it in one place.
#[must_use]
pub fn now_unix_nanos() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
}
