//! Scoring v0: weighted rules over lead fields give 0–100 with a factor
//! breakdown; intent level from counted signals; tier from the score.
//!
//! Rules come from configuration, so the rule set is data: a `ScoringRules`
//! is built once (parsing its conditions) and applied to every lead.

use serde::{Deserialize, Serialize};

use crate::lead::{Field, IntentLevel, Lead, Tier};

/// A condition over one field of a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    /// The field has a value.
    Present { field: Field },
    /// The field equals one of the values (case-insensitive).
    OneOf { field: Field, values: Vec<String> },
    /// The field contains one of the words (case-insensitive).
    Contains { field: Field, words: Vec<String> },
    /// A numeric field lies in `min..=max` (either bound may be left out).
    Between {
        field: Field,
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
    },
}

/// One weighted rule: when the condition holds, `weight` points are earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub weight: u32,
    #[serde(flatten)]
    pub when: Condition,
}

/// Rules plus the tier thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringRules {
    pub rules: Vec<Rule>,
    /// Minimum score for tier A.
    #[serde(default = "default_tier_a")]
    pub tier_a: u8,
    /// Minimum score for tier B.
    #[serde(default = "default_tier_b")]
    pub tier_b: u8,
}

fn default_tier_a() -> u8 {
    70
}
fn default_tier_b() -> u8 {
    40
}

/// How one rule contributed to a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    pub rule: String,
    pub weight: u32,
    pub matched: bool,
}

/// A computed score with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreCard {
    pub score: u8,
    pub tier: Tier,
    pub factors: Vec<Factor>,
}

/// Why a rule set was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RulesError {
    #[error("scoring rules have no weight at all: give at least one rule a weight above 0")]
    NoWeight,
    #[error(
        "tier thresholds must satisfy 0 < tier_b <= tier_a <= 100 (got tier_a={a}, tier_b={b})"
    )]
    BadTiers { a: u8, b: u8 },
    #[error(
        "rule '{rule}': field '{field}' is not numeric; `between` works on employee_count and revenue"
    )]
    NotNumeric { rule: String, field: &'static str },
}

impl ScoringRules {
    /// Checks the rule set once, so that scoring itself cannot fail.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.rules.iter().all(|r| r.weight == 0) {
            return Err(RulesError::NoWeight);
        }
        if self.tier_b == 0 || self.tier_b > self.tier_a || self.tier_a > 100 {
            return Err(RulesError::BadTiers {
                a: self.tier_a,
                b: self.tier_b,
            });
        }
        for r in &self.rules {
            if let Condition::Between { field, .. } = &r.when
                && !matches!(field, Field::EmployeeCount | Field::Revenue)
            {
                return Err(RulesError::NotNumeric {
                    rule: r.name.clone(),
                    field: field.name(),
                });
            }
        }
        Ok(())
    }

    /// Scores a lead: the share of the total weight its matched rules earn.
    pub fn score(&self, lead: &Lead) -> ScoreCard {
        let total: u32 = self.rules.iter().map(|r| r.weight).sum();
        let mut earned = 0u32;
        let factors = self
            .rules
            .iter()
            .map(|r| {
                let matched = r.when.holds(lead);
                if matched {
                    earned += r.weight;
                }
                Factor {
                    rule: r.name.clone(),
                    weight: r.weight,
                    matched,
                }
            })
            .collect();
        let score = ((earned as u64 * 100 + total as u64 / 2) / total.max(1) as u64).min(100) as u8;
        ScoreCard {
            score,
            tier: self.tier_of(score),
            factors,
        }
    }

    /// Score and tier only, without the breakdown: the ingest hot path.
    pub fn score_fast(&self, lead: &Lead) -> (u8, Tier) {
        let total: u32 = self.rules.iter().map(|r| r.weight).sum();
        let earned: u32 = self
            .rules
            .iter()
            .filter(|r| r.when.holds(lead))
            .map(|r| r.weight)
            .sum();
        let score = ((earned as u64 * 100 + total as u64 / 2) / total.max(1) as u64).min(100) as u8;
        (score, self.tier_of(score))
    }

    pub fn tier_of(&self, score: u8) -> Tier {
        if score >= self.tier_a {
            Tier::A
        } else if score >= self.tier_b {
            Tier::B
        } else {
            Tier::C
        }
    }

    /// Applies the score to the lead itself.
    pub fn apply(&self, lead: &mut Lead) {
        let (score, tier) = self.score_fast(lead);
        lead.score = score;
        lead.tier = tier;
    }
}

impl Default for ScoringRules {
    /// A B2B outbound default: reachable, senior, right-sized companies.
    fn default() -> Self {
        let rule = |name: &str, weight, when| Rule {
            name: name.into(),
            weight,
            when,
        };
        let words = |ws: &[&str]| ws.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        ScoringRules {
            rules: vec![
                rule(
                    "has_email",
                    25,
                    Condition::Present {
                        field: Field::Email,
                    },
                ),
                rule(
                    "has_phone",
                    10,
                    Condition::Present {
                        field: Field::Phone,
                    },
                ),
                rule(
                    "has_linkedin",
                    10,
                    Condition::Present {
                        field: Field::LinkedinUrl,
                    },
                ),
                rule(
                    "has_company_domain",
                    10,
                    Condition::Present {
                        field: Field::CompanyDomain,
                    },
                ),
                rule(
                    "decision_maker_title",
                    25,
                    Condition::Contains {
                        field: Field::Title,
                        words: words(&[
                            "ceo",
                            "cto",
                            "cfo",
                            "coo",
                            "cmo",
                            "chief",
                            "founder",
                            "owner",
                            "president",
                            "vp",
                            "vice president",
                            "head of",
                            "director",
                            "partner",
                        ]),
                    },
                ),
                rule(
                    "company_size_11_to_1000",
                    10,
                    Condition::Between {
                        field: Field::EmployeeCount,
                        min: Some(11),
                        max: Some(1000),
                    },
                ),
                rule(
                    "target_country",
                    10,
                    Condition::OneOf {
                        field: Field::Country,
                        values: words(&["US", "CA", "GB"]),
                    },
                ),
            ],
            tier_a: default_tier_a(),
            tier_b: default_tier_b(),
        }
    }
}

impl Condition {
    fn holds(&self, lead: &Lead) -> bool {
        match self {
            // Numbers first: `field_text` would format them.
            Condition::Present { field } => {
                numeric(lead, *field).is_some() || field_text(lead, *field).is_some()
            }
            Condition::OneOf { field, values } => field_text(lead, *field)
                .is_some_and(|v| values.iter().any(|x| x.eq_ignore_ascii_case(&v))),
            Condition::Contains { field, words } => {
                field_text(lead, *field).is_some_and(|v| contains_any_word(&v, words))
            }
            Condition::Between { field, min, max } => numeric(lead, *field)
                .is_some_and(|n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)),
        }
    }
}

/// Whether any of `words` is in `haystack` as a whole word, ASCII case
/// ignored, so that "vp" matches "VP Sales" but not "mvp". Allocates
/// nothing: it runs for every lead. A match starts a word, so the words
/// are tried only where one starts (a title has a few such places, and a
/// rule a dozen words).
fn contains_any_word<W: AsRef<str>>(haystack: &str, words: &[W]) -> bool {
    let h = haystack.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80;
    (0..h.len())
        .filter(|&i| i == 0 || !is_word(h[i - 1]))
        .any(|i| {
            words.iter().any(|w| {
                let w = w.as_ref().as_bytes();
                w.first().is_some_and(|c| c.eq_ignore_ascii_case(&h[i]))
                    && h.get(i..i + w.len())
                        .is_some_and(|m| m.eq_ignore_ascii_case(w))
                    && h.get(i + w.len()).is_none_or(|&b| !is_word(b))
            })
        })
}

fn numeric(lead: &Lead, field: Field) -> Option<u64> {
    match field {
        Field::EmployeeCount => lead.employee_count.map(u64::from),
        Field::Revenue => lead.revenue,
        _ => None,
    }
}

/// A field's value as text, for rule conditions and filters.
pub fn field_text(lead: &Lead, field: Field) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow::{Borrowed, Owned};
    fn s(o: &Option<String>) -> Option<std::borrow::Cow<'_, str>> {
        o.as_deref().map(std::borrow::Cow::Borrowed)
    }
    match field {
        Field::Email => lead.email.as_ref().map(|e| Borrowed(e.as_str())),
        Field::FirstName => s(&lead.first_name),
        Field::LastName => s(&lead.last_name),
        Field::FullName => lead.full_name().map(Owned),
        Field::Title => s(&lead.title),
        Field::Seniority => s(&lead.seniority),
        Field::Department => s(&lead.department),
        Field::Phone => lead.phone.as_ref().map(|p| Borrowed(p.e164())),
        Field::Mobile => lead.mobile.as_ref().map(|p| Borrowed(p.e164())),
        Field::LinkedinUrl => lead.linkedin.as_ref().map(|l| Borrowed(l.as_str())),
        Field::CompanyName => s(&lead.company_name),
        Field::CompanyDomain => lead.company_domain.as_ref().map(|d| Borrowed(d.as_str())),
        Field::CompanyLinkedinUrl => lead.company_linkedin.as_ref().map(|l| Borrowed(l.as_str())),
        Field::CompanyPhone => lead.company_phone.as_ref().map(|p| Borrowed(p.e164())),
        Field::Industry => s(&lead.industry),
        Field::EmployeeCount => lead.employee_count.map(|n| Owned(n.to_string())),
        Field::Revenue => lead.revenue.map(|n| Owned(n.to_string())),
        Field::City => s(&lead.city),
        Field::State => s(&lead.state),
        Field::Country => lead.country.as_ref().map(|c| Borrowed(c.as_str())),
        Field::PostalCode => s(&lead.postal_code),
        Field::Tags => (!lead.tags.is_empty()).then(|| Owned(lead.tags.join(","))),
    }
}

/// Intent level exactly as the plan defines it from counts of high- and
/// medium-strength signals: hot is ≥3 high, or ≥2 high and ≥3 medium; warm is
/// ≥1 high or ≥4 medium; everything else is cold.
pub fn intent_level(high: u32, medium: u32) -> IntentLevel {
    if high >= 3 || (high >= 2 && medium >= 3) {
        IntentLevel::Hot
    } else if high >= 1 || medium >= 4 {
        IntentLevel::Warm
    } else {
        IntentLevel::Cold
    }
}

#[cfg(test)]
mod word_tests {
    use super::contains_any_word;
    use proptest::prelude::*;

    fn contains_word(h: &str, w: &str) -> bool {
        contains_any_word(h, &[w])
    }

    /// Whole-word containment, the obvious way: some place where the word
    /// matches with no word character just before or after it.
    fn contains_word_slowly(h: &str, w: &str) -> bool {
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80;
        let (h, w) = (h.as_bytes(), w.as_bytes());
        !w.is_empty()
            && (0..h.len()).filter(|i| i + w.len() <= h.len()).any(|i| {
                h[i..i + w.len()].eq_ignore_ascii_case(w)
                    && (i == 0 || !is_word(h[i - 1]))
                    && (i + w.len() == h.len() || !is_word(h[i + w.len()]))
            })
    }

    #[test]
    fn any_of_several_words_matches() {
        assert!(contains_any_word("Chief Revenue Officer", &["vp", "chief"]));
        assert!(!contains_any_word("Chiefly Sales", &["vp", "chief"]));
        assert!(!contains_any_word("Sales", &[] as &[&str]));
    }

    #[test]
    fn words_match_whole_and_in_any_case() {
        assert!(contains_word("VP Sales", "vp"));
        assert!(contains_word("Head of Sales", "head of"));
        assert!(contains_word("Co-Founder", "founder"));
        assert!(!contains_word("MVP Engineer", "vp"));
        assert!(!contains_word("Directorate", "director"));
        assert!(!contains_word("VP", ""));
    }

    proptest! {
        #[test]
        fn contains_word_agrees_with_the_obvious_way(h in "[a-cA-C -é]{0,16}", w in "[a-cA-C ]{0,3}") {
            prop_assert_eq!(contains_word(&h, &w), contains_word_slowly(&h, &w));
        }
    }
}
