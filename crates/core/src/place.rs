//! A business listing from a maps provider (Google Places, SerpApi's Google
//! Maps engine), as plain strings, and the company it becomes.
//!
//! Provider clients only decode JSON into [`Place`]; everything that turns
//! raw strings into domain types happens here, once, the same way for every
//! provider.

use serde::{Deserialize, Serialize};

use crate::company::{Company, CompanyField, CompanyName};
use crate::domain::Domain;
use crate::geo::{Country, us_state_code};
use crate::lead::SourceRef;
use crate::names::tidy_name_part;
use crate::phone::Phone;

/// A listing as a provider returned it. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// The provider's id of the place (a Google place id).
    pub place_id: Option<String>,
    pub name: Option<String>,
    /// The one-line address, e.g. `350 5th Ave, New York, NY 10118, USA`.
    pub address: Option<String>,
    /// Parsed address parts, when the provider gives them.
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// Country as given (`US`, `United States`).
    pub country: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub rating: Option<f32>,
    pub review_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// The parts of a US one-line address: `street, city, ST 12345[, USA]`.
fn split_us_address(address: &str) -> Option<(String, String, String, String)> {
    let parts: Vec<&str> = address.split(',').map(str::trim).collect();
    let parts = match parts.last() {
        Some(last) if ["USA", "US", "United States"].contains(last) => &parts[..parts.len() - 1],
        _ => &parts[..],
    };
    let [.., street, city, state_zip] = parts else {
        return None;
    };
    let (state, zip) = state_zip.rsplit_once(' ')?;
    let state = us_state_code(state)?;
    let zip_ok = zip.len() >= 5 && zip.as_bytes()[..5].iter().all(u8::is_ascii_digit);
    zip_ok.then(|| {
        (
            street.to_string(),
            city.to_string(),
            state.to_owned(),
            zip[..5].to_owned(),
        )
    })
}

fn clean(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Place {
    /// The company this listing describes, observed in `origin`. Fields
    /// that do not parse (a phone without digits, a website that is a
    /// social page) are left out rather than stored wrong; the raw listing
    /// stays in the source record.
    pub fn to_company(&self, origin: SourceRef, default_country: Country) -> Company {
        let mut c = Company::new(origin);
        c.name = clean(&self.name).and_then(CompanyName::parse);
        c.place_id = clean(&self.place_id).map(str::to_owned);
        let parsed = clean(&self.address).and_then(split_us_address);
        let (street, city, state, postal) = match &parsed {
            Some((s, c, st, z)) => (
                Some(s.as_str()),
                Some(c.as_str()),
                Some(st.as_str()),
                Some(z.as_str()),
            ),
            None => (None, None, None, None),
        };
        c.street = clean(&self.street).or(street).map(str::to_owned);
        c.city = clean(&self.city).or(city).map(tidy_name_part);
        c.country = clean(&self.country)
            .and_then(|s| Country::parse(s).ok())
            .or(parsed.as_ref().map(|_| Country::US));
        let us = c.country.is_none_or(|k| k == Country::US);
        c.state = clean(&self.state)
            .map(|s| match us_state_code(s).filter(|_| us) {
                Some(code) => code.to_owned(),
                None => s.to_owned(),
            })
            .or(state.map(str::to_owned));
        c.postal_code = clean(&self.postal_code).or(postal).map(str::to_owned);
        let region = c.country.unwrap_or(default_country);
        c.phone = clean(&self.phone).and_then(|p| Phone::parse(p, region).ok());
        c.domain = clean(&self.website)
            .and_then(|w| Domain::parse(w).ok())
            .filter(|d| !is_platform_domain(d.as_str()));
        c.rating = self
            .rating
            .filter(|r| r.is_finite() && (0.0..=5.0).contains(r));
        c.review_count = self.review_count;
        c.industry = self.types.first().map(|t| t.replace('_', " "));
        if !self.hours.is_empty() {
            c.custom.push(("hours".into(), self.hours.join("; ")));
        }
        if let (Some(lat), Some(lon)) = (self.lat, self.lon) {
            c.custom
                .push(("location".into(), format!("{lat:.6},{lon:.6}")));
        }
        for (field, set) in [
            (CompanyField::Name, c.name.is_some()),
            (CompanyField::PlaceId, c.place_id.is_some()),
            (CompanyField::Street, c.street.is_some()),
            (CompanyField::City, c.city.is_some()),
            (CompanyField::State, c.state.is_some()),
            (CompanyField::PostalCode, c.postal_code.is_some()),
            (CompanyField::Country, c.country.is_some()),
            (CompanyField::Phone, c.phone.is_some()),
            (CompanyField::Domain, c.domain.is_some()),
            (CompanyField::Rating, c.rating.is_some()),
            (CompanyField::ReviewCount, c.review_count.is_some()),
            (CompanyField::Industry, c.industry.is_some()),
        ] {
            if set {
                c.provenance.set(field, origin);
            }
        }
        c
    }
}

/// Sites that host many businesses' pages: a listing whose "website" is
/// one of these says nothing about the business's own domain, and taking it
/// would merge every such business into one company.
fn is_platform_domain(domain: &str) -> bool {
    const PLATFORMS: &[&str] = &[
        "facebook.com",
        "instagram.com",
        "linkedin.com",
        "twitter.com",
        "x.com",
        "yelp.com",
        "google.com",
        "business.site",
        "wixsite.com",
        "godaddysites.com",
        "square.site",
        "linktr.ee",
        "youtube.com",
        "tiktok.com",
    ];
    PLATFORMS.contains(&domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::RecordId;

    fn origin() -> SourceRef {
        SourceRef {
            at: 1_700_000_000_000,
            record: RecordId::new(3, 1),
        }
    }

    #[test]
    fn a_full_listing_becomes_a_normalized_company() {
        let p = Place {
            place_id: Some("ChIJN1t_tDeuEmsRUsoyG83frY4".into()),
            name: Some("  Smile Dental, P.C. ".into()),
            address: Some("350 5th Ave, New York, NY 10118, USA".into()),
            phone: Some("(212) 555-0142".into()),
            website: Some("https://www.smiledental.com/contact?x=1".into()),
            rating: Some(4.6),
            review_count: Some(212),
            types: vec!["dentist".into(), "health".into()],
            hours: vec!["Monday: 9 AM – 5 PM".into()],
            lat: Some(40.7484),
            lon: Some(-73.9857),
            ..Place::default()
        };
        let c = p.to_company(origin(), Country::US);
        assert_eq!(c.name.as_ref().unwrap().as_str(), "Smile Dental, P.C.");
        assert_eq!(c.domain.as_ref().unwrap().as_str(), "smiledental.com");
        assert_eq!(c.phone.as_ref().unwrap().e164(), "+12125550142");
        assert_eq!(c.street.as_deref(), Some("350 5th Ave"));
        assert_eq!(c.city.as_deref(), Some("New York"));
        assert_eq!(c.state.as_deref(), Some("NY"));
        assert_eq!(c.postal_code.as_deref(), Some("10118"));
        assert_eq!(c.country, Some(Country::US));
        assert_eq!(c.rating, Some(4.6));
        assert_eq!(c.review_count, Some(212));
        assert_eq!(c.industry.as_deref(), Some("dentist"));
        assert_eq!(c.provenance.of(CompanyField::Phone), Some(origin()));
        assert!(
            c.custom
                .iter()
                .any(|(k, v)| k == "hours" && v.contains("Monday"))
        );
    }

    #[test]
    fn parts_given_by_the_provider_win_over_the_one_line_address() {
        let p = Place {
            name: Some("Acme".into()),
            address: Some("1 Main St, Springfield, IL 62701".into()),
            city: Some("springfield".into()),
            state: Some("Illinois".into()),
            postal_code: Some("62704".into()),
            ..Place::default()
        };
        let c = p.to_company(origin(), Country::US);
        assert_eq!(c.city.as_deref(), Some("Springfield"));
        assert_eq!(c.state.as_deref(), Some("IL"));
        assert_eq!(c.postal_code.as_deref(), Some("62704"));
        assert_eq!(c.street.as_deref(), Some("1 Main St"));
    }

    #[test]
    fn bad_or_borrowed_fields_are_left_out() {
        let p = Place {
            name: Some("   ".into()),
            phone: Some("call us".into()),
            website: Some("https://www.facebook.com/smiledental".into()),
            rating: Some(f32::NAN),
            address: Some("somewhere".into()),
            ..Place::default()
        };
        let c = p.to_company(origin(), Country::US);
        assert!(c.name.is_none() && c.phone.is_none() && c.domain.is_none());
        assert!(c.rating.is_none() && c.postal_code.is_none() && c.country.is_none());
    }
}
