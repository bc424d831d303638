//! Bundled classification data (`data/*.txt`, one entry per line, `#`
//! comments) and domain typo suggestions. Each set is built once, on first
//! use.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use foldhash::fast::RandomState;

type Set = HashSet<&'static str, RandomState>;

fn lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn set(text: &'static str) -> Set {
    lines(text).collect()
}

static DISPOSABLE: LazyLock<Set> =
    LazyLock::new(|| set(include_str!("../data/disposable_domains.txt")));
static FREE: LazyLock<Set> = LazyLock::new(|| set(include_str!("../data/free_providers.txt")));
static ROLE: LazyLock<Set> = LazyLock::new(|| set(include_str!("../data/role_accounts.txt")));

/// A throw-away mailbox provider (mailinator.com, yopmail.com, …). A
/// subdomain of a listed domain counts too (`x.mailinator.com`).
pub fn is_disposable(domain: &str) -> bool {
    let set = &*DISPOSABLE;
    let mut d = domain;
    loop {
        if set.contains(d) {
            return true;
        }
        match d.find('.') {
            // Stop before the bare top-level domain.
            Some(i) if d[i + 1..].contains('.') => d = &d[i + 1..],
            _ => return false,
        }
    }
}

/// A consumer mailbox provider (gmail.com, yahoo.com, web.de, qq.com, …).
pub fn is_free(domain: &str) -> bool {
    FREE.contains(domain)
}

/// A function or team mailbox (info@, sales@, support@, …): compared
/// case-insensitively, ignoring a `+tag`.
pub fn is_role(local: &str) -> bool {
    let base = local.split('+').next().unwrap_or(local);
    if base.len() > 32 {
        return false;
    }
    if base.bytes().any(|b| b.is_ascii_uppercase()) {
        return ROLE.contains(base.to_ascii_lowercase().as_str());
    }
    ROLE.contains(base)
}

/// Domains people mistype most. Only names of 8 or more characters get
/// one-edit variants: shorter ones (aol.com, qq.com) sit one edit away from
/// too many real domains.
const POPULAR: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "outlook.com",
    "icloud.com",
    "comcast.net",
    "gmx.com",
    "gmx.net",
    "web.de",
    "yandex.ru",
    "mail.ru",
    "protonmail.com",
    "proton.me",
    "orange.fr",
    "t-online.de",
    "sbcglobal.net",
    "verizon.net",
    "btinternet.com",
    "rocketmail.com",
    "aol.com",
    "msn.com",
    "qq.com",
    "163.com",
    "me.com",
];

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-.";

/// Misspelling → intended domain, for every name one edit (insert, delete,
/// substitute, swap neighbours) away from a popular domain, except names
/// that are real providers themselves or ambiguous between two.
static TYPOS: LazyLock<HashMap<String, Option<&'static str>, RandomState>> = LazyLock::new(|| {
    let mut map: HashMap<String, Option<&'static str>, RandomState> = HashMap::default();
    let mut add = |variant: String, target: &'static str| {
        if variant == target
            || POPULAR.contains(&variant.as_str())
            || FREE.contains(variant.as_str())
        {
            return;
        }
        map.entry(variant)
            .and_modify(|t| {
                if *t != Some(target) {
                    *t = None
                }
            })
            .or_insert(Some(target));
    };
    for &d in POPULAR.iter().filter(|d| d.len() >= 8) {
        let b = d.as_bytes();
        for i in 0..=b.len() {
            for &c in ALPHABET {
                let mut v = b.to_vec();
                v.insert(i, c);
                add(String::from_utf8_lossy(&v).into_owned(), d);
            }
        }
        for i in 0..b.len() {
            let mut v = b.to_vec();
            v.remove(i);
            add(String::from_utf8_lossy(&v).into_owned(), d);
            for &c in ALPHABET {
                let mut v = b.to_vec();
                v[i] = c;
                add(String::from_utf8_lossy(&v).into_owned(), d);
            }
            if i + 1 < b.len() {
                let mut v = b.to_vec();
                v.swap(i, i + 1);
                add(String::from_utf8_lossy(&v).into_owned(), d);
            }
        }
    }
    map
});

/// Top-level domains that are typos (not delegated), and what was meant.
const TLD_TYPOS: &[(&str, &str)] = &[
    ("con", "com"),
    ("cmo", "com"),
    ("ocm", "com"),
    ("vom", "com"),
    ("xom", "com"),
    ("cpm", "com"),
    ("comm", "com"),
    ("coom", "com"),
    ("clm", "com"),
    ("nte", "net"),
    ("ent", "net"),
    ("nett", "net"),
    ("ogr", "org"),
    ("rog", "org"),
];

/// The domain the user probably meant: `gmial.com` → `gmail.com`,
/// `acme.con` → `acme.com`. `None` for a name that is fine as far as we
/// know.
pub fn suggest_domain(domain: &str) -> Option<String> {
    if domain.len() > 40 {
        return None;
    }
    if let Some(Some(target)) = TYPOS.get(domain) {
        return Some((*target).to_owned());
    }
    let (name, tld) = domain.rsplit_once('.')?;
    let (_, fixed) = TLD_TYPOS.iter().find(|(typo, _)| *typo == tld)?;
    let candidate = format!("{name}.{fixed}");
    // `gmial.con`: fix both.
    Some(suggest_domain(&candidate).unwrap_or(candidate))
}

/// Forces the sets to be built now (so a benchmark or the first request
/// does not pay for it).
pub fn warm_up() {
    LazyLock::force(&DISPOSABLE);
    LazyLock::force(&FREE);
    LazyLock::force(&ROLE);
    LazyLock::force(&TYPOS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_disposable_domains_are_listed_and_real_providers_are_not() {
        for d in [
            "mailinator.com",
            "guerrillamail.com",
            "10minutemail.com",
            "temp-mail.org",
            "yopmail.com",
            "trashmail.com",
            "inbox.mailinator.com",
        ] {
            assert!(is_disposable(d), "{d}");
        }
        for d in ["gmail.com", "acme.com", "outlook.com", "com"] {
            assert!(!is_disposable(d), "{d}");
        }
        assert!(DISPOSABLE.len() > 3000);
    }

    #[test]
    fn free_providers_and_role_accounts() {
        for d in [
            "gmail.com",
            "yahoo.com",
            "web.de",
            "qq.com",
            "163.com",
            "proton.me",
        ] {
            assert!(is_free(d), "{d}");
        }
        assert!(!is_free("acme.com"));
        for l in [
            "info",
            "Sales",
            "support+eu",
            "postmaster",
            "noreply",
            "hello",
        ] {
            assert!(is_role(l), "{l}");
        }
        for l in ["jane.doe", "information.desk", "j"] {
            assert!(!is_role(l), "{l}");
        }
    }

    #[test]
    fn common_domain_typos_get_suggestions() {
        let table = [
            ("gmial.com", "gmail.com"),
            ("gmai.com", "gmail.com"),
            ("gnail.com", "gmail.com"),
            ("gmail.con", "gmail.com"),
            ("gmail.co", "gmail.com"),
            ("hotmial.com", "hotmail.com"),
            ("hotmal.com", "hotmail.com"),
            ("yaho.com", "yahoo.com"),
            ("yahooo.com", "yahoo.com"),
            ("outlok.com", "outlook.com"),
            ("outloo.com", "outlook.com"),
            ("iclod.com", "icloud.com"),
            ("acme.con", "acme.com"),
            ("gmial.con", "gmail.com"),
        ];
        for (typo, want) in table {
            assert_eq!(suggest_domain(typo).as_deref(), Some(want), "{typo}");
        }
        for fine in [
            "gmail.com",
            "acme.com",
            "ymail.com",
            "email.com",
            "gmx.de",
            "mail.ru",
            "aol.com",
        ] {
            assert_eq!(suggest_domain(fine), None, "{fine}");
        }
    }
}
