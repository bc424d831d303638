//! Email patterns: which of the usual shapes (`first.last`, `flast`,
//! `first`, …) a domain uses, learned from addresses whose owners are
//! known, and the candidates it gives for a new name. Pure: no IO.

use serde::Serialize;

/// A shape of the local part built from a first and a last name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    FirstDotLast,
    First,
    FLast,
    FirstLast,
    FDotLast,
    Last,
    FirstL,
    FirstUnderscoreLast,
    FirstDashLast,
    LastDotFirst,
    LastFirst,
    LastF,
}

impl Pattern {
    /// Every pattern, most common first (the prior when a domain has no
    /// known addresses).
    pub const ALL: [Pattern; 12] = [
        Pattern::FirstDotLast,
        Pattern::First,
        Pattern::FLast,
        Pattern::FirstLast,
        Pattern::FDotLast,
        Pattern::Last,
        Pattern::FirstL,
        Pattern::FirstUnderscoreLast,
        Pattern::FirstDashLast,
        Pattern::LastDotFirst,
        Pattern::LastFirst,
        Pattern::LastF,
    ];

    /// A rough share of company domains using each pattern, for ranking
    /// without evidence. Sums to 1.
    pub fn prior(self) -> f64 {
        match self {
            Pattern::FirstDotLast => 0.32,
            Pattern::First => 0.2,
            Pattern::FLast => 0.16,
            Pattern::FirstLast => 0.08,
            Pattern::FDotLast => 0.06,
            Pattern::Last => 0.04,
            Pattern::FirstL => 0.04,
            Pattern::FirstUnderscoreLast => 0.03,
            Pattern::FirstDashLast => 0.02,
            Pattern::LastDotFirst => 0.02,
            Pattern::LastFirst => 0.02,
            Pattern::LastF => 0.01,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::FirstDotLast => "first.last",
            Pattern::First => "first",
            Pattern::FLast => "flast",
            Pattern::FirstLast => "firstlast",
            Pattern::FDotLast => "f.last",
            Pattern::Last => "last",
            Pattern::FirstL => "firstl",
            Pattern::FirstUnderscoreLast => "first_last",
            Pattern::FirstDashLast => "first-last",
            Pattern::LastDotFirst => "last.first",
            Pattern::LastFirst => "lastfirst",
            Pattern::LastF => "lastf",
        }
    }

    /// The local part for a person, or `None` when a name part is empty
    /// after folding to ASCII.
    pub fn local(self, first: &str, last: &str) -> Option<String> {
        let (f, l) = (fold(first), fold(last));
        if f.is_empty() || l.is_empty() {
            return None;
        }
        let fi = &f[..1];
        let li = &l[..1];
        Some(match self {
            Pattern::FirstDotLast => format!("{f}.{l}"),
            Pattern::First => f,
            Pattern::FLast => format!("{fi}{l}"),
            Pattern::FirstLast => format!("{f}{l}"),
            Pattern::FDotLast => format!("{fi}.{l}"),
            Pattern::Last => l,
            Pattern::FirstL => format!("{f}{li}"),
            Pattern::FirstUnderscoreLast => format!("{f}_{l}"),
            Pattern::FirstDashLast => format!("{f}-{l}"),
            Pattern::LastDotFirst => format!("{l}.{f}"),
            Pattern::LastFirst => format!("{l}{f}"),
            Pattern::LastF => format!("{l}{fi}"),
        })
    }
}

/// A name part as it appears in addresses: lower-case ASCII letters and
/// digits, accents dropped (`José` → `jose`), spaces, hyphens and
/// apostrophes removed (`O'Brien` → `obrien`).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let base = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
            'ñ' | 'ń' | 'ň' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => 'u',
            'ý' | 'ÿ' => 'y',
            'ß' => 's',
            'ł' => 'l',
            'ś' | 'š' => 's',
            'ź' | 'ż' | 'ž' => 'z',
            'ř' => 'r',
            c => c,
        };
        if base.is_ascii_alphanumeric() {
            out.push(base);
        }
    }
    out
}

/// An address whose owner's name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAddress {
    pub first: String,
    pub last: String,
    /// The part before `@`.
    pub local: String,
}

/// Patterns ranked for a domain, with the share of known addresses each
/// explains (0 when none was known).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    /// Best first.
    pub ranked: Vec<(Pattern, f64)>,
    /// Known addresses that fit some pattern.
    pub evidence: usize,
}

/// Learns the domain's patterns from `known`. An address that fits
/// several patterns (`john@` is `first` for John Smith, but `jsmith@` is
/// only `flast`) counts for each. Without evidence, the prior order.
pub fn infer(known: &[KnownAddress]) -> Inference {
    let mut counts = [0usize; Pattern::ALL.len()];
    let mut evidence = 0;
    for k in known {
        let local = k.local.to_ascii_lowercase();
        let mut fits = false;
        for (i, p) in Pattern::ALL.iter().enumerate() {
            if p.local(&k.first, &k.last).as_deref() == Some(local.as_str()) {
                counts[i] += 1;
                fits = true;
            }
        }
        evidence += usize::from(fits);
    }
    let mut ranked: Vec<(Pattern, f64)> = Pattern::ALL
        .iter()
        .zip(counts)
        .map(|(p, n)| {
            let share = if evidence == 0 {
                0.0
            } else {
                n as f64 / evidence as f64
            };
            (*p, share)
        })
        .collect();
    // Evidence first, the prior breaks ties (and orders everything when
    // nothing is known).
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| b.0.prior().total_cmp(&a.0.prior()))
    });
    Inference { ranked, evidence }
}

impl Inference {
    /// How likely `p` is the domain's pattern: the evidence share, shrunk
    /// towards the prior when evidence is thin (one address is a hint,
    /// five are a habit).
    pub fn probability(&self, p: Pattern) -> f64 {
        let share = self
            .ranked
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(0.0, |(_, s)| *s);
        let n = self.evidence as f64;
        let weight = n / (n + 1.0);
        weight * share + (1.0 - weight) * p.prior()
    }

    /// Candidate addresses for a person at `domain`, most likely first,
    /// at most `max`.
    pub fn candidates(
        &self,
        first: &str,
        last: &str,
        domain: &str,
        max: usize,
    ) -> Vec<(String, Pattern, f64)> {
        let mut out: Vec<(String, Pattern, f64)> = Vec::new();
        let mut ordered: Vec<Pattern> = self.ranked.iter().map(|(p, _)| *p).collect();
        ordered.sort_by(|a, b| self.probability(*b).total_cmp(&self.probability(*a)));
        for p in ordered {
            if let Some(local) = p.local(first, last) {
                let email = format!("{local}@{}", domain.to_ascii_lowercase());
                if !out.iter().any(|(e, _, _)| *e == email) {
                    out.push((email, p, self.probability(p)));
                }
            }
            if out.len() >= max {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(first: &str, last: &str, local: &str) -> KnownAddress {
        KnownAddress {
            first: first.into(),
            last: last.into(),
            local: local.into(),
        }
    }

    #[test]
    fn renders_every_pattern() {
        let got: Vec<String> = Pattern::ALL
            .iter()
            .filter_map(|p| p.local("José", "O'Brien"))
            .collect();
        assert_eq!(
            got,
            [
                "jose.obrien",
                "jose",
                "jobrien",
                "joseobrien",
                "j.obrien",
                "obrien",
                "joseo",
                "jose_obrien",
                "jose-obrien",
                "obrien.jose",
                "obrienjose",
                "obrienj"
            ]
        );
        assert_eq!(Pattern::First.local("", "Smith"), None);
        let total: f64 = Pattern::ALL.iter().map(|p| p.prior()).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn learns_flast_from_known_addresses() {
        let inf = infer(&[
            k("Jane", "Doe", "jdoe"),
            k("Bob", "Stone", "bstone"),
            k("Ann", "Lee", "info"),
        ]);
        assert_eq!(inf.ranked[0].0, Pattern::FLast);
        assert_eq!(inf.evidence, 2);
        let c = inf.candidates("Maria", "Lopez", "Acme.com", 3);
        assert_eq!(c[0].0, "mlopez@acme.com");
        assert!(c[0].2 > 0.6, "{c:?}");
    }

    #[test]
    fn without_evidence_the_prior_orders_candidates() {
        let inf = infer(&[]);
        let c = inf.candidates("Maria", "Lopez", "acme.com", 3);
        let emails: Vec<&str> = c.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            emails,
            ["maria.lopez@acme.com", "maria@acme.com", "mlopez@acme.com"]
        );
        assert!((c[0].2 - 0.32).abs() < 1e-9);
    }
}
