//! Advertising activity: a company running ads is a company spending money
//! to grow, the plan's high-intent signal. Ads from a library (Meta's Ad
//! Library, …) are grouped by advertiser into one [`AdActivity`] per
//! platform, kept on the company.

use serde::{Deserialize, Serialize};

/// One ad as a library lists it. Dates are `YYYY-MM-DD` (UTC).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ad {
    pub id: String,
    pub advertiser_id: String,
    pub advertiser_name: Option<String>,
    /// The advertiser's site as the ad shows it (`acme.com`, a URL).
    pub link: Option<String>,
    pub creative_text: Option<String>,
    pub started: Option<String>,
    /// `None` while the ad still runs.
    pub stopped: Option<String>,
}

/// What one platform's library shows of an advertiser, as of one look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdActivity {
    /// Ads that ran at some point in the window.
    pub ad_count: u32,
    /// Ads still running on the day of the look.
    pub active_count: u32,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// The text of one creative, for a human (and an LLM) to read.
    pub sample_creative: Option<String>,
    /// The window the counts cover, in days before `checked_on`.
    pub window_days: u32,
    pub checked_on: String,
}

impl AdActivity {
    /// Groups one advertiser's ads: those that ran in the `window_days`
    /// before `today` count; `None` when none did.
    pub fn of(ads: &[&Ad], today: &str, window_days: u32) -> Option<AdActivity> {
        let window_start = shift_date(today, -(i64::from(window_days)))?;
        let in_window: Vec<&&Ad> = ads
            .iter()
            .filter(|a| {
                a.stopped
                    .as_deref()
                    .is_none_or(|s| s >= window_start.as_str())
            })
            .filter(|a| a.started.as_deref().is_none_or(|s| s <= today))
            .collect();
        if in_window.is_empty() {
            return None;
        }
        let first_seen = in_window.iter().filter_map(|a| a.started.clone()).min();
        let last_seen = in_window
            .iter()
            .map(|a| a.stopped.clone().unwrap_or_else(|| today.to_owned()))
            .max();
        let sample_creative = in_window
            .iter()
            .filter_map(|a| a.creative_text.as_deref())
            .map(str::trim)
            .find(|t| !t.is_empty())
            .map(|t| t.chars().take(500).collect());
        Some(AdActivity {
            ad_count: in_window.len() as u32,
            active_count: in_window.iter().filter(|a| a.stopped.is_none()).count() as u32,
            first_seen,
            last_seen,
            sample_creative,
            window_days,
            checked_on: today.to_owned(),
        })
    }

    pub fn running(&self) -> bool {
        self.active_count > 0
    }
}

/// `YYYY-MM-DD` of a Unix time in milliseconds (UTC).
pub fn date_of_ms(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The date `days` after `date` (`YYYY-MM-DD`); `None` if it is no date.
pub fn shift_date(date: &str, days: i64) -> Option<String> {
    let start = ms_of_date(date)?.div_euclid(86_400_000);
    let (y, m, d) = civil_from_days(start + days);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Midnight UTC of `date` (`YYYY-MM-DD…`) in Unix milliseconds; `None` if
/// it is no date.
pub fn ms_of_date(date: &str) -> Option<i64> {
    let mut parts = date.get(..10)?.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400_000)
}

// Howard Hinnant's civil-calendar algorithms (public domain), proleptic
// Gregorian, day 0 = 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(started: &str, stopped: Option<&str>, text: &str) -> Ad {
        Ad {
            id: started.into(),
            advertiser_id: "p1".into(),
            started: Some(started.into()),
            stopped: stopped.map(str::to_owned),
            creative_text: Some(text.into()),
            ..Ad::default()
        }
    }

    #[test]
    fn dates_round_trip_across_months_years_and_leap_days() {
        assert_eq!(date_of_ms(0), "1970-01-01");
        assert_eq!(date_of_ms(1_709_164_800_000), "2024-02-29");
        assert_eq!(shift_date("2024-03-01", -1).as_deref(), Some("2024-02-29"));
        assert_eq!(shift_date("2026-01-05", -30).as_deref(), Some("2025-12-06"));
        assert_eq!(
            shift_date("2026-11-30T10:00:00+0000", 1).as_deref(),
            Some("2026-12-01")
        );
        assert_eq!(shift_date("soon", 1), None);
        for day in [-700_000i64, -1, 0, 59, 365, 20_000, 2_000_000] {
            let s = date_of_ms(day * 86_400_000);
            assert_eq!(shift_date(&s, 1), Some(date_of_ms((day + 1) * 86_400_000)));
        }
    }

    #[test]
    fn activity_counts_ads_in_the_window() {
        let ads = [
            ad("2026-11-01", None, "Implants from $999"),
            ad("2026-10-01", Some("2026-11-10"), "Free consult"),
            ad("2026-06-01", Some("2026-07-01"), "Old summer promo"),
            ad("2026-11-20", None, " "),
        ];
        let refs: Vec<&Ad> = ads.iter().collect();
        let a = AdActivity::of(&refs, "2026-11-30", 30).unwrap();
        assert_eq!((a.ad_count, a.active_count), (3, 2));
        assert_eq!(a.first_seen.as_deref(), Some("2026-10-01"));
        assert_eq!(a.last_seen.as_deref(), Some("2026-11-30"));
        assert_eq!(a.sample_creative.as_deref(), Some("Implants from $999"));
        assert!(a.running());
        let old = [&ads[2]];
        assert_eq!(AdActivity::of(&old, "2026-11-30", 30), None);
    }
}
