//! What one HTML page says about a company: emails (plain, `mailto:`,
//! entity-encoded and `name [at] domain [dot] com` obfuscations), phones
//! (`tel:` and text, through core's parser), social profiles, schema.org
//! JSON-LD organizations and people, people with titles from team pages,
//! links, and the page-level quality signals.
//!
//! HTML is read with `tl`: we need links, attributes, script bodies and the
//! text in document order, not a spec-exact tree.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use leadgen_core::email::Email;
use leadgen_core::geo::Country;
use leadgen_core::phone::Phone;
use regex::Regex;
use serde::Serialize;
use serde_json::Value;
use url::Url;

/// A social network a company or person can be found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Social {
    Linkedin,
    X,
    Facebook,
    Instagram,
}

impl Social {
    pub fn as_str(self) -> &'static str {
        match self {
            Social::Linkedin => "linkedin",
            Social::X => "x",
            Social::Facebook => "facebook",
            Social::Instagram => "instagram",
        }
    }
}

/// A schema.org `PostalAddress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PostalAddress {
    pub street: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// A schema.org Organization / LocalBusiness (or subtype) from JSON-LD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub kind: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub telephone: Option<String>,
    pub email: Option<String>,
    pub address: Option<PostalAddress>,
    pub same_as: Vec<String>,
}

/// A person named on a page, with what the page says they do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub name: String,
    pub title: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
}

/// Everything read from one page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageFacts {
    pub title: Option<String>,
    /// Normalized addresses, in first-seen order.
    pub emails: Vec<String>,
    /// E.164.
    pub phones: Vec<String>,
    pub socials: Vec<(Social, String)>,
    pub organizations: Vec<Organization>,
    pub people: Vec<Person>,
    #[serde(skip)]
    pub links: Vec<Url>,
    pub has_viewport: bool,
    pub has_form: bool,
    pub copyright_year: Option<u16>,
    /// The visible text, one block per line, at most [`MAX_TEXT`] bytes.
    #[serde(skip)]
    pub text: String,
}

/// Visible text kept per page (for the LLM step).
pub const MAX_TEXT: usize = 6000;

/// Reads `html`, served from `base`. `team_page` turns on the
/// name-then-title heuristic for people (JSON-LD people are read on every
/// page).
pub fn extract(html: &str, base: &Url, region: Country, team_page: bool) -> PageFacts {
    let mut facts = PageFacts::default();
    let mut walk = Walk::default();
    if let Ok(dom) = tl::parse(html, tl::ParserOptions::default()) {
        let parser = dom.parser();
        for h in dom.children() {
            walk.node(*h, parser);
        }
    }
    walk.flush();

    facts.title = walk.title.map(|t| collapse(&decode_entities(&t)));
    facts.has_viewport = walk.viewport;
    facts.has_form = walk.form;

    let mut emails = Emails::default();
    for href in &walk.hrefs {
        let decoded = decode_entities(href);
        let lower = decoded.trim().to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("mailto:") {
            let addr = rest.split('?').next().unwrap_or("");
            emails.add(&percent_decode(addr));
        } else if let Some(rest) = lower.strip_prefix("tel:") {
            add_phone(&mut facts.phones, &percent_decode(rest), region);
        } else if let Ok(u) = base.join(decoded.trim()) {
            if let Some(s) = social(&u) {
                if !facts.socials.contains(&s) {
                    facts.socials.push(s);
                }
            } else if matches!(u.scheme(), "http" | "https") {
                facts.links.push(u);
            }
        }
    }
    // Addresses anywhere in the source: text, attributes, scripts.
    let decoded = decode_entities(html);
    let source = deobfuscate(&decoded);
    for m in EMAIL.find_iter(&source) {
        emails.add(m.as_str());
    }

    for block in &walk.blocks {
        for m in PHONE.find_iter(block) {
            if m.as_str().chars().filter(char::is_ascii_digit).count() >= 10 {
                add_phone(&mut facts.phones, m.as_str(), region);
            }
        }
        if facts.copyright_year.is_none()
            && let Some(c) = COPYRIGHT.captures(block)
        {
            facts.copyright_year = c.get(1).and_then(|y| y.as_str().parse().ok());
        }
    }

    for json in &walk.json_ld {
        if let Ok(v) = serde_json::from_str::<Value>(json) {
            read_json_ld(&v, &mut facts, &mut emails, region, 0);
        }
    }
    if team_page {
        for p in people_from_blocks(&walk.blocks) {
            if !facts.people.iter().any(|q| q.name == p.name) {
                facts.people.push(p);
            }
        }
    }
    facts.emails = emails.list;
    for b in &walk.blocks {
        if facts.text.len() + b.len() + 1 > MAX_TEXT {
            break;
        }
        facts.text.push_str(b);
        facts.text.push('\n');
    }
    facts
}

#[derive(Default)]
struct Emails {
    list: Vec<String>,
    seen: BTreeSet<String>,
}

impl Emails {
    fn add(&mut self, raw: &str) {
        let raw = raw.trim().trim_end_matches('.');
        let Ok(e) = Email::parse(raw) else { return };
        let domain = e.domain().to_ascii_lowercase();
        let tld = domain.rsplit('.').next().unwrap_or("");
        // File names like logo@2x.png and tracker DSNs are not addresses.
        const NOT_TLDS: [&str; 9] = [
            "png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico",
        ];
        const NOT_DOMAINS: [&str; 5] = [
            "example.com",
            "sentry.io",
            "wixpress.com",
            "sentry-next.wixpress.com",
            "domain.com",
        ];
        if NOT_TLDS.contains(&tld)
            || NOT_DOMAINS
                .iter()
                .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        {
            return;
        }
        let s = e.as_str().to_ascii_lowercase();
        if self.seen.insert(s.clone()) {
            self.list.push(s);
        }
    }
}

fn add_phone(phones: &mut Vec<String>, raw: &str, region: Country) {
    if let Ok(p) = Phone::parse(raw.trim(), region) {
        let e = p.e164().to_owned();
        if !phones.contains(&e) {
            phones.push(e);
        }
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}",
    )
    .expect("static regex")
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}")
        .expect("static regex")
});
static COPYRIGHT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:©|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?((?:19|20)\d{2})")
        .expect("static regex")
});
static AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s*(?:\[\s*(?:at|@)\s*\]|\(\s*(?:at|@)\s*\)|\{\s*(?:at|@)\s*\})\s*")
        .expect("static regex")
});
static DOT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s*(?:\[\s*(?:dot|\.)\s*\]|\(\s*(?:dot|\.)\s*\)|\{\s*(?:dot|\.)\s*\})\s*")
        .expect("static regex")
});

/// `name [at] domain [dot] com`, `name(at)domain.com`, `name {at} x {dot} y`
/// → `name@domain.com`.
pub fn deobfuscate(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !(lower.contains("at]") || lower.contains("at)") || lower.contains("at}")) {
        return Cow::Borrowed(text);
    }
    let step = AT.replace_all(text, "@");
    Cow::Owned(DOT.replace_all(&step, ".").into_owned())
}

/// Decodes the entities that hide addresses and text: named ones in common
/// use and every numeric one.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // ';' is ASCII, so its byte position is a char boundary.
        let end = rest.as_bytes().iter().take(12).position(|b| *b == b';');
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let ch = if let Some(num) = name.strip_prefix('#') {
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                n.and_then(char::from_u32)
            } else {
                match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    "commat" => Some('@'),
                    "period" => Some('.'),
                    "copy" => Some('©'),
                    "ndash" => Some('–'),
                    "mdash" => Some('—'),
                    _ => None,
                }
            };
            ch.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A social profile link, normalized (`https://linkedin.com/company/acme`),
/// or `None` for any other link (share buttons and pixels included).
pub fn social(u: &Url) -> Option<(Social, String)> {
    let host = u.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let host = host.strip_prefix("m.").unwrap_or(host);
    let path = u.path().trim_end_matches('/');
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let kind = match host {
        "linkedin.com" if ["company", "in", "school"].contains(&first) => Social::Linkedin,
        "twitter.com" | "x.com"
            if !first.is_empty() && !["intent", "share", "home", "hashtag"].contains(&first) =>
        {
            Social::X
        }
        "facebook.com"
            if !first.is_empty()
                && !["sharer", "sharer.php", "tr", "dialog", "plugins"].contains(&first) =>
        {
            Social::Facebook
        }
        "instagram.com" if !first.is_empty() && first != "p" => Social::Instagram,
        _ => return None,
    };
    let host = if kind == Social::X { "x.com" } else { host };
    Some((kind, format!("https://{host}{path}").to_ascii_lowercase()))
}

/// The document walked once: text blocks in order, hrefs, JSON-LD bodies.
#[derive(Default)]
struct Walk {
    blocks: Vec<String>,
    current: String,
    hrefs: Vec<String>,
    json_ld: Vec<String>,
    title: Option<String>,
    viewport: bool,
    form: bool,
}

const BLOCK_TAGS: [&str; 24] = [
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "tr",
    "td",
    "th",
    "section",
    "article",
    "header",
    "footer",
    "dt",
    "dd",
    "figcaption",
    "address",
    "blockquote",
];

impl Walk {
    fn flush(&mut self) {
        let t = collapse(&decode_entities(&self.current));
        if !t.is_empty() {
            self.blocks.push(t);
        }
        self.current.clear();
    }

    fn node(&mut self, h: tl::NodeHandle, parser: &tl::Parser) {
        let Some(node) = h.get(parser) else { return };
        match node {
            tl::Node::Raw(b) => {
                self.current.push_str(&b.as_utf8_str());
            }
            tl::Node::Comment(_) => {}
            tl::Node::Tag(tag) => {
                let name = tag.name().as_utf8_str().to_ascii_lowercase();
                let attr = |k: &str| {
                    tag.attributes()
                        .get(k)
                        .flatten()
                        .map(|v| v.as_utf8_str().into_owned())
                };
                match name.as_str() {
                    "script" => {
                        let ty = attr("type").unwrap_or_default().to_ascii_lowercase();
                        if ty.contains("ld+json") {
                            self.json_ld.push(tag.inner_text(parser).into_owned());
                        }
                        return;
                    }
                    "style" | "noscript" | "template" | "svg" => return,
                    "title" => {
                        if self.title.is_none() {
                            self.title = Some(tag.inner_text(parser).into_owned());
                        }
                        return;
                    }
                    "meta" => {
                        if attr("name").is_some_and(|n| n.eq_ignore_ascii_case("viewport")) {
                            self.viewport = true;
                        }
                        return;
                    }
                    "form" => self.form = true,
                    "a" | "link" | "area" => {
                        if let Some(href) = attr("href") {
                            self.hrefs.push(href);
                        }
                    }
                    _ => {}
                }
                let block = BLOCK_TAGS.contains(&name.as_str());
                if block {
                    self.flush();
                } else if !self.current.ends_with(' ') {
                    self.current.push(' ');
                }
                for c in tag.children().top().iter() {
                    self.node(*c, parser);
                }
                if block {
                    self.flush();
                } else {
                    self.current.push(' ');
                }
            }
        }
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(collapse(&decode_entities(s))).filter(|s| !s.is_empty()),
        Value::Array(a) => a.iter().find_map(str_of),
        Value::Object(o) => o.get("name").or_else(|| o.get("@id")).and_then(str_of),
        _ => None,
    }
}

fn types_of(v: &Value) -> Vec<String> {
    match &v["@type"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Types that are never the company itself.
const NOT_ORGS: [&str; 16] = [
    "WebSite",
    "WebPage",
    "BreadcrumbList",
    "ListItem",
    "PostalAddress",
    "ImageObject",
    "SearchAction",
    "ContactPoint",
    "GeoCoordinates",
    "OpeningHoursSpecification",
    "Offer",
    "Product",
    "AggregateRating",
    "Review",
    "Article",
    "BlogPosting",
];

fn read_json_ld(v: &Value, facts: &mut PageFacts, emails: &mut Emails, region: Country, depth: u8) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Array(a) => {
            for x in a {
                read_json_ld(x, facts, emails, region, depth + 1);
            }
        }
        Value::Object(o) => {
            let types = types_of(v);
            if types.iter().any(|t| t == "Person") {
                if let Some(name) = str_of(&v["name"]) {
                    let same_as = strings(&v["sameAs"]);
                    let email = v["email"].as_str().map(|e| {
                        let e = e.trim_start_matches("mailto:");
                        emails.add(e);
                        e.to_ascii_lowercase()
                    });
                    let person = Person {
                        name,
                        title: str_of(&v["jobTitle"]),
                        email,
                        linkedin: same_as
                            .iter()
                            .filter_map(|s| Url::parse(s).ok())
                            .filter_map(|u| social(&u))
                            .find(|(k, _)| *k == Social::Linkedin)
                            .map(|(_, u)| u),
                    };
                    if !facts.people.iter().any(|p| p.name == person.name) {
                        facts.people.push(person);
                    }
                }
            } else if !types.is_empty() && !types.iter().any(|t| NOT_ORGS.contains(&t.as_str())) {
                let org = organization(v, &types, emails, region, &mut facts.phones);
                for s in &org.same_as {
                    if let Some(s) = Url::parse(s).ok().and_then(|u| social(&u))
                        && !facts.socials.contains(&s)
                    {
                        facts.socials.push(s);
                    }
                }
                facts.organizations.push(org);
            }
            for (k, x) in o {
                if matches!(x, Value::Object(_) | Value::Array(_)) && k != "address" {
                    read_json_ld(x, facts, emails, region, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn organization(
    v: &Value,
    types: &[String],
    emails: &mut Emails,
    region: Country,
    phones: &mut Vec<String>,
) -> Organization {
    let address = match &v["address"] {
        a @ Value::Object(_) => Some(PostalAddress {
            street: str_of(&a["streetAddress"]),
            locality: str_of(&a["addressLocality"]),
            region: str_of(&a["addressRegion"]),
            postal_code: str_of(&a["postalCode"]),
            country: str_of(&a["addressCountry"]),
        }),
        Value::String(s) => Some(PostalAddress {
            street: Some(s.clone()),
            ..PostalAddress::default()
        }),
        _ => None,
    };
    let telephone = str_of(&v["telephone"]);
    if let Some(t) = &telephone {
        add_phone(phones, t, region);
    }
    let email = str_of(&v["email"]).map(|e| e.trim_start_matches("mailto:").to_owned());
    if let Some(e) = &email {
        emails.add(e);
    }
    Organization {
        kind: types.first().cloned().unwrap_or_default(),
        name: str_of(&v["name"]),
        url: str_of(&v["url"]),
        telephone,
        email,
        address,
        same_as: strings(&v["sameAs"]),
    }
}

const TITLE_WORDS: [&str; 44] = [
    "ceo",
    "cto",
    "cfo",
    "coo",
    "cmo",
    "cio",
    "cro",
    "founder",
    "co-founder",
    "cofounder",
    "owner",
    "president",
    "director",
    "manager",
    "head",
    "vp",
    "vice",
    "chief",
    "officer",
    "partner",
    "principal",
    "lead",
    "engineer",
    "designer",
    "dentist",
    "attorney",
    "lawyer",
    "doctor",
    "dds",
    "broker",
    "agent",
    "consultant",
    "coordinator",
    "specialist",
    "architect",
    "accountant",
    "administrator",
    "editor",
    "chair",
    "chairman",
    "hygienist",
    "associate",
    "counsel",
    "technician",
];

const NOT_NAME_WORDS: [&str; 40] = [
    "our",
    "us",
    "team",
    "contact",
    "about",
    "read",
    "more",
    "get",
    "the",
    "meet",
    "services",
    "home",
    "privacy",
    "policy",
    "terms",
    "careers",
    "jobs",
    "company",
    "leadership",
    "blog",
    "news",
    "book",
    "call",
    "free",
    "learn",
    "sign",
    "log",
    "support",
    "open",
    "roles",
    "street",
    "avenue",
    "suite",
    "view",
    "all",
    "people",
    "staff",
    "hours",
    "welcome",
    "we",
];

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
}

fn is_title(s: &str) -> bool {
    s.len() <= 80 && words(s).any(|w| TITLE_WORDS.contains(&w.as_str()))
}

fn is_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if !(2..=4).contains(&parts.len()) || s.len() > 40 {
        return false;
    }
    parts.iter().all(|p| {
        let p = p.trim_end_matches(['.', ',']);
        let mut chars = p.chars();
        let first_upper = chars.next().is_some_and(char::is_uppercase);
        let lw = p.to_lowercase();
        first_upper
            && p.chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.')
            && (p.len() == 1 || p.chars().skip(1).any(char::is_lowercase))
            && !TITLE_WORDS.contains(&lw.as_str())
            && !NOT_NAME_WORDS.contains(&lw.as_str())
    })
}

/// People on a team page: a name block followed by a title block, or one
/// block "Name, Title" / "Name – Title" / "Name | Title".
fn people_from_blocks(blocks: &[String]) -> Vec<Person> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let b = blocks[i].trim();
        let split = [" - ", " – ", " — ", " | ", ", "]
            .iter()
            .find_map(|sep| b.split_once(sep))
            .filter(|(n, t)| is_name(n.trim()) && is_title(t.trim()));
        if let Some((n, t)) = split {
            out.push(person(n.trim(), Some(t.trim())));
        } else if is_name(b)
            && let Some(next) = blocks.get(i + 1)
            && is_title(next)
            && !is_name(next)
        {
            out.push(person(b, Some(next.trim())));
            i += 1;
        }
        i += 1;
    }
    out
}

fn person(name: &str, title: Option<&str>) -> Person {
    Person {
        name: name.to_owned(),
        title: title.map(str::to_owned),
        email: None,
        linkedin: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str, team: bool) -> PageFacts {
        extract(
            html,
            &Url::parse("https://acme.com/").unwrap(),
            Country::US,
            team,
        )
    }

    #[test]
    fn obfuscated_and_encoded_addresses_are_found() {
        let f = page(
            r#"<p>jane [at] acme [dot] com</p><p>bob(at)acme.com</p>
               <p>sales&#64;acme&#46;com</p><a href="mailto:Info@Acme.com?subject=hi">x</a>
               <img src="logo@2x.png">"#,
            false,
        );
        let mut e = f.emails.clone();
        e.sort();
        assert_eq!(
            e,
            [
                "bob@acme.com",
                "info@acme.com",
                "jane@acme.com",
                "sales@acme.com"
            ]
        );
    }

    #[test]
    fn phones_socials_and_signals() {
        let f = page(
            r#"<html><head><meta name="viewport" content="width=device-width"><title>Acme</title></head>
            <body><p>Call (212) 736-5000</p><a href="tel:+1-415-555-2671">call</a>
            <a href="https://www.linkedin.com/company/acme/">in</a>
            <a href="https://twitter.com/acme">tw</a>
            <a href="https://www.facebook.com/sharer.php?u=x">share</a>
            <footer>&copy; 2019 - 2024 Acme</footer></body></html>"#,
            false,
        );
        assert!(
            f.phones.contains(&"+12127365000".to_owned()),
            "{:?}",
            f.phones
        );
        assert_eq!(
            f.socials,
            [
                (
                    Social::Linkedin,
                    "https://linkedin.com/company/acme".to_owned()
                ),
                (Social::X, "https://x.com/acme".to_owned())
            ]
        );
        assert!(f.has_viewport);
        assert_eq!(f.copyright_year, Some(2024));
        assert_eq!(f.title.as_deref(), Some("Acme"));
    }

    #[test]
    fn team_blocks_become_people_and_headings_do_not() {
        let f = page(
            "<h2>Meet Our Team</h2><div><h3>Maria Lopez</h3><p>Founder &amp; CEO</p></div>
             <div><h3>Tom O'Brien</h3><p>Head of Sales</p></div><p>Sam Lee, CTO</p>
             <h3>Senior Engineer</h3><p>Remote</p>",
            true,
        );
        let got: Vec<(String, Option<String>)> = f
            .people
            .iter()
            .map(|p| (p.name.clone(), p.title.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("Maria Lopez".into(), Some("Founder & CEO".into())),
                ("Tom O'Brien".into(), Some("Head of Sales".into())),
                ("Sam Lee".into(), Some("CTO".into())),
            ]
        );
    }

    #[test]
    fn json_ld_business_with_address() {
        let f = page(
            r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"Plumber",
              "name":"Acme Plumbing","telephone":"+1 212 736 5000","email":"office@acme.com",
              "address":{"@type":"PostalAddress","streetAddress":"1 Main St","addressLocality":"Springfield","postalCode":"12345"},
              "sameAs":["https://instagram.com/acmeplumbing"],
              "founder":{"@type":"Person","name":"Ann Smith","jobTitle":"Owner"}}</script>"#,
            false,
        );
        assert_eq!(f.organizations.len(), 1);
        let o = &f.organizations[0];
        assert_eq!(o.kind, "Plumber");
        assert_eq!(
            o.address.as_ref().unwrap().locality.as_deref(),
            Some("Springfield")
        );
        assert_eq!(f.emails, ["office@acme.com"]);
        assert_eq!(f.phones, ["+12127365000"]);
        assert_eq!(f.people[0].title.as_deref(), Some("Owner"));
        assert_eq!(f.socials[0].0, Social::Instagram);
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "<",
            "<a href=",
            "&é;",
            "&ééééééééé",
            "x&#1234567890123;",
            "&#xFFFFFFFF;",
            "&",
            "<script type=application/ld+json>{",
            "\u{0}",
        ] {
            let _ = page(s, true);
        }
    }
}
