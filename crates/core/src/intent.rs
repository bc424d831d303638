//! Intent signals: a company (by its domain) or a person (by their email)
//! researching a topic, as a data provider or a vendor's export reports it.
//! Signals are counted into the plan's hot/warm/cold level
//! ([`crate::score::intent_level`]), summed into weekly trends per topic,
//! and broken down per workspace. Pure: callers pass `now`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::Domain;
use crate::email::Email;
use crate::lead::IntentLevel;

/// What a signal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A company, keyed by its registrable domain.
    Company,
    /// A person, keyed by their email address.
    Lead,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Company => "company",
            SubjectKind::Lead => "lead",
        }
    }

    pub fn parse(s: &str) -> Option<SubjectKind> {
        match s {
            "company" => Some(SubjectKind::Company),
            "lead" => Some(SubjectKind::Lead),
            _ => None,
        }
    }
}

/// How strong a signal is: the plan counts high and medium ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    High,
    Medium,
    Low,
}

impl Strength {
    /// Providers score 0–100: 70 and above is high, 40 and above medium.
    pub fn of_score(score: u8) -> Strength {
        match score {
            70.. => Strength::High,
            40.. => Strength::Medium,
            _ => Strength::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strength::High => "high",
            Strength::Medium => "medium",
            Strength::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Strength> {
        match s.trim().to_ascii_lowercase().as_str() {
            "high" | "strong" | "hot" => Some(Strength::High),
            "medium" | "moderate" | "warm" => Some(Strength::Medium),
            "low" | "weak" | "cold" => Some(Strength::Low),
            _ => None,
        }
    }
}

/// One signal, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentSignal {
    pub subject: SubjectKind,
    /// The registrable domain, or the email address.
    pub key: String,
    pub topic: String,
    /// 0–100.
    pub score: u8,
    pub strength: Strength,
    /// The provider's kind of signal: `surge`, `page_visit`, `review`, …
    pub signal_type: String,
    /// Who reported it: `datashopper`, `csv:<file>`, `webhook:<vendor>`.
    pub source: String,
    /// When the provider detected it, Unix ms.
    pub observed_at: i64,
}

/// An active query: what a daily run asks the intent provider for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveQuery {
    pub topic: String,
    /// ISO country code of the companies.
    #[serde(default)]
    pub country: Option<String>,
    /// State or region codes within the country.
    #[serde(default)]
    pub states: Vec<String>,
    /// Employee count range.
    #[serde(default)]
    pub min_size: Option<u32>,
    #[serde(default)]
    pub max_size: Option<u32>,
    #[serde(default)]
    pub industries: Vec<String>,
    /// Most companies a run asks for.
    pub limit: u32,
}

/// Why a raw signal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("no company domain and no email: a signal must say whom it is about")]
    NoSubject,
    #[error("{0:?} is neither a domain nor an email address")]
    BadSubject(String),
    #[error("the topic is empty")]
    NoTopic,
    #[error("score {0:?} is not a number from 0 to 100")]
    BadScore(String),
    #[error("strength {0:?} is not high, medium or low")]
    BadStrength(String),
    #[error("date {0:?} is not YYYY-MM-DD, an RFC 3339 time or Unix seconds/ms")]
    BadDate(String),
}

/// A signal as it arrives: text fields from a CSV row, a webhook or a
/// provider, before parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RawSignal {
    pub domain: Option<String>,
    pub email: Option<String>,
    pub topic: Option<String>,
    pub score: Option<String>,
    pub strength: Option<String>,
    pub signal_type: Option<String>,
    pub detected_at: Option<String>,
}

impl RawSignal {
    /// Parses the signal; a missing date is `now`, a missing strength is
    /// the score's, a missing score the strength's middle.
    pub fn parse(&self, source: &str, now: i64) -> Result<IntentSignal, SignalError> {
        let (subject, key) = match (filled(&self.email), filled(&self.domain)) {
            (Some(e), _) => match Email::parse(e) {
                Ok(e) => (SubjectKind::Lead, e.as_str().to_lowercase()),
                Err(_) => return Err(SignalError::BadSubject(e.to_owned())),
            },
            (None, Some(d)) => match Domain::parse(d) {
                Ok(d) => (SubjectKind::Company, d.as_str().to_owned()),
                Err(_) => return Err(SignalError::BadSubject(d.to_owned())),
            },
            (None, None) => return Err(SignalError::NoSubject),
        };
        let topic = filled(&self.topic).ok_or(SignalError::NoTopic)?;
        let strength = match filled(&self.strength) {
            Some(s) => Some(Strength::parse(s).ok_or_else(|| SignalError::BadStrength(s.into()))?),
            None => None,
        };
        let score = match filled(&self.score) {
            Some(s) => {
                let v: f64 = s.parse().map_err(|_| SignalError::BadScore(s.into()))?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(SignalError::BadScore(s.into()));
                }
                v.round() as u8
            }
            None => match strength {
                Some(Strength::High) => 85,
                Some(Strength::Medium) => 55,
                _ => 20,
            },
        };
        let observed_at = match filled(&self.detected_at) {
            Some(d) => parse_time(d).ok_or_else(|| SignalError::BadDate(d.into()))?,
            None => now,
        };
        Ok(IntentSignal {
            subject,
            key,
            topic: topic.to_lowercase(),
            score,
            strength: strength.unwrap_or(Strength::of_score(score)),
            signal_type: filled(&self.signal_type).unwrap_or("intent").to_lowercase(),
            source: source.to_owned(),
            observed_at,
        })
    }
}

fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `2026-11-28`, `2026-11-28T10:00:00Z` (or with an offset), or Unix
/// seconds / milliseconds, as Unix ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        // Before 2001-09-09 in ms is after 33658 in seconds: tell them apart.
        return Some(if n.abs() < 100_000_000_000 {
            n * 1000
        } else {
            n
        });
    }
    let date = s.get(..10)?;
    let days = days_since_epoch(date)?;
    let mut ms = days * 86_400_000;
    let rest = &s[10..];
    if let Some(t) = rest.strip_prefix(['T', ' ']) {
        let hms: Vec<i64> = t
            .get(..8)?
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if hms.len() != 3 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
            return None;
        }
        ms += (hms[0] * 3600 + hms[1] * 60 + hms[2]) * 1000;
        let zone = t[8..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
        ms -= match zone {
            "" | "Z" | "z" => 0,
            z => {
                let sign = match z.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let hm = z[1..].replace(':', "");
                let h: i64 = hm.get(..2)?.parse().ok()?;
                let m: i64 = hm.get(2..4).unwrap_or("00").parse().ok()?;
                sign * (h * 3600 + m * 60) * 1000
            }
        };
    } else if !rest.is_empty() {
        return None;
    }
    Some(ms)
}

fn days_since_epoch(date: &str) -> Option<i64> {
    // Hinnant's days_from_civil; a date that does not come back the same
    // (February 30th) is no date.
    let mut p = date.split('-');
    let y: i64 = p.next()?.parse().ok()?;
    let m: i64 = p.next()?.parse().ok()?;
    let d: i64 = p.next()?.parse().ok()?;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (crate::ads::date_of_ms(days.checked_mul(86_400_000)?) == date).then_some(days)
}

/// The level of a subject from its signals' strengths.
pub fn level_of(strengths: impl IntoIterator<Item = Strength>) -> IntentLevel {
    let (mut high, mut medium) = (0, 0);
    for s in strengths {
        match s {
            Strength::High => high += 1,
            Strength::Medium => medium += 1,
            Strength::Low => {}
        }
    }
    crate::score::intent_level(high, medium)
}

/// Which way a topic moves week over week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Stable,
}

/// One topic's signal volume per week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicTrend {
    pub topic: String,
    /// Signals per week, oldest first; the last is the week ending now.
    pub weekly: Vec<u64>,
    pub this_week: u64,
    pub previous_week: u64,
    /// `None` when the previous week had none.
    pub change_pct: Option<f64>,
    pub direction: Direction,
}

const WEEK_MS: i64 = 7 * 86_400_000;

/// Weekly volume per topic over the `weeks` weeks ending at `now` (weeks
/// are the 7-day spans counted back from `now`). A change within ±10% is
/// stable. Topics in order of this week's volume, then name.
pub fn weekly_trends<'a>(
    signals: impl IntoIterator<Item = (&'a str, i64)>,
    now: i64,
    weeks: u32,
) -> Vec<TopicTrend> {
    let weeks = weeks.max(2) as usize;
    let mut by: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (topic, at) in signals {
        if at > now {
            continue;
        }
        let back = ((now - at) / WEEK_MS) as usize;
        if back < weeks {
            by.entry(topic).or_insert_with(|| vec![0; weeks])[weeks - 1 - back] += 1;
        }
    }
    let mut out: Vec<TopicTrend> = by
        .into_iter()
        .map(|(topic, weekly)| {
            let this_week = weekly[weeks - 1];
            let previous_week = weekly[weeks - 2];
            let change_pct = (previous_week > 0).then(|| {
                ((this_week as f64 - previous_week as f64) / previous_week as f64 * 1000.0).round()
                    / 10.0
            });
            let direction = match change_pct {
                Some(c) if c > 10.0 => Direction::Up,
                Some(c) if c < -10.0 => Direction::Down,
                Some(_) => Direction::Stable,
                None if this_week > 0 => Direction::Up,
                None => Direction::Stable,
            };
            TopicTrend {
                topic: topic.to_owned(),
                weekly,
                this_week,
                previous_week,
                change_pct,
                direction,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.this_week
            .cmp(&a.this_week)
            .then_with(|| a.topic.cmp(&b.topic))
    });
    out
}

/// Hot/warm/cold counts and their shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub hot: u64,
    pub warm: u64,
    pub cold: u64,
    pub total: u64,
    pub hot_pct: f64,
    pub warm_pct: f64,
    pub cold_pct: f64,
}

impl Breakdown {
    pub fn of(counts: impl IntoIterator<Item = (IntentLevel, u64)>) -> Breakdown {
        let mut b = Breakdown::default();
        for (level, n) in counts {
            match level {
                IntentLevel::Hot => b.hot += n,
                IntentLevel::Warm => b.warm += n,
                IntentLevel::Cold => b.cold += n,
            }
        }
        b.total = b.hot + b.warm + b.cold;
        let pct = |n: u64| {
            if b.total == 0 {
                0.0
            } else {
                (n as f64 * 1000.0 / b.total as f64).round() / 10.0
            }
        };
        (b.hot_pct, b.warm_pct, b.cold_pct) = (pct(b.hot), pct(b.warm), pct(b.cold));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(domain: &str, email: &str, score: &str, strength: &str, at: &str) -> RawSignal {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        RawSignal {
            domain: s(domain),
            email: s(email),
            topic: Some(" CRM Software ".into()),
            score: s(score),
            strength: s(strength),
            signal_type: None,
            detected_at: s(at),
        }
    }

    #[test]
    fn raw_signals_parse_to_a_subject_score_and_strength() {
        let s = raw("https://www.Acme.com/x", "", "82", "", "2026-11-28")
            .parse("csv", 0)
            .unwrap();
        assert_eq!(
            (s.subject, s.key.as_str()),
            (SubjectKind::Company, "acme.com")
        );
        assert_eq!(
            (s.score, s.strength, s.topic.as_str()),
            (82, Strength::High, "crm software")
        );
        assert_eq!(s.observed_at, parse_time("2026-11-28T00:00:00Z").unwrap());
        let p = raw("acme.com", "Jane@Acme.com", "", "medium", "")
            .parse("csv", 7)
            .unwrap();
        assert_eq!(
            (p.subject, p.key.as_str()),
            (SubjectKind::Lead, "jane@acme.com")
        );
        assert_eq!(
            (p.score, p.strength, p.observed_at),
            (55, Strength::Medium, 7)
        );
        assert_eq!(
            raw("", "", "1", "", "").parse("x", 0),
            Err(SignalError::NoSubject)
        );
        assert!(matches!(
            raw("acme.com", "", "101", "", "").parse("x", 0),
            Err(SignalError::BadScore(_))
        ));
        assert!(matches!(
            raw("acme.com", "", "", "huge", "").parse("x", 0),
            Err(SignalError::BadStrength(_))
        ));
        assert!(matches!(
            raw("acme.com", "", "", "", "yesterday").parse("x", 0),
            Err(SignalError::BadDate(_))
        ));
        assert!(matches!(
            raw("not a domain", "", "", "", "").parse("x", 0),
            Err(SignalError::BadSubject(_))
        ));
    }

    #[test]
    fn times_read_dates_rfc3339_and_unix() {
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time("1970-01-01T00:00:01.500Z"), Some(1000));
        assert_eq!(parse_time("1764547200"), Some(1_764_547_200_000));
        assert_eq!(parse_time("1764547200000"), Some(1_764_547_200_000));
        assert_eq!(parse_time("2026-02-30"), None);
        assert_eq!(parse_time("2026-11-28junk"), None);
        let day = parse_time("2026-11-28").unwrap();
        assert_eq!(crate::ads::date_of_ms(day), "2026-11-28");
    }

    #[test]
    fn levels_follow_the_plan_rule() {
        use Strength::*;
        assert_eq!(level_of([High, High, High]), IntentLevel::Hot);
        assert_eq!(
            level_of([High, High, Medium, Medium, Medium]),
            IntentLevel::Hot
        );
        assert_eq!(level_of([High, Low, Low]), IntentLevel::Warm);
        assert_eq!(level_of([Medium; 4]), IntentLevel::Warm);
        assert_eq!(level_of([Medium, Medium, Medium, Low]), IntentLevel::Cold);
    }

    #[test]
    fn trends_compare_this_week_with_the_last() {
        let now = 100 * WEEK_MS;
        let day = 86_400_000;
        let mut s: Vec<(&str, i64)> = Vec::new();
        s.extend((0..4).map(|i| ("crm", now - i * day)));
        s.extend((0..2).map(|_| ("crm", now - WEEK_MS - day)));
        s.extend((0..5).map(|_| ("erp", now - WEEK_MS - day)));
        s.extend((0..5).map(|_| ("erp", now - day)));
        s.push(("hr", now - 3 * WEEK_MS));
        s.push(("future", now + day));
        s.push(("old", now - 9 * WEEK_MS));
        let t = weekly_trends(s, now, 8);
        assert_eq!(
            t.iter().map(|t| t.topic.as_str()).collect::<Vec<_>>(),
            ["erp", "crm", "hr"]
        );
        assert_eq!(
            (t[1].this_week, t[1].previous_week, t[1].change_pct),
            (4, 2, Some(100.0))
        );
        assert_eq!(t[1].direction, Direction::Up);
        assert_eq!(t[0].direction, Direction::Stable);
        assert_eq!(t[2].weekly, [0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!((t[2].change_pct, t[2].direction), (None, Direction::Stable));
    }

    #[test]
    fn breakdown_counts_and_shares() {
        let b = Breakdown::of([
            (IntentLevel::Hot, 1),
            (IntentLevel::Warm, 2),
            (IntentLevel::Cold, 5),
        ]);
        assert_eq!((b.hot, b.warm, b.cold, b.total), (1, 2, 5, 8));
        assert_eq!((b.hot_pct, b.warm_pct, b.cold_pct), (12.5, 25.0, 62.5));
        assert_eq!(Breakdown::of([]).hot_pct, 0.0);
    }
}
