//! The real-time clock (an `Rtc` session).

use crate::{sys, Error};

/// Broken-down UTC time as the RTC reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcTime {
    /// Full year, e.g. 2026.
    pub year: u32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 to 999999.
    pub microsecond: u32,
}

/// The current time from the RTC.
pub fn now() -> Result<RtcTime, Error> {
    let mut t = sys::sg_rtc_time::default();
    // SAFETY: `t` outlives the call.
    Error::check(unsafe { sys::sg_rtc_now(&mut t) })?;
    Ok(RtcTime {
        year: t.year,
        month: t.month,
        day: t.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second,
        microsecond: t.microsecond,
    })
}
