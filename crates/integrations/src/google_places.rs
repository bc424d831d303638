//! Google Places API (New), Text Search: `POST /v1/places:searchText`.
//!
//! The key goes in `X-Goog-Api-Key` and the field mask in `X-Goog-FieldMask`.
//! The mask is required and decides the price of every request (the most
//! expensive field asked for sets the SKU), so a sweep asks only for the
//! fields it needs ([`PlacesFields`]). `pageSize` is at most 20; a page
//! token must be sent back with every other parameter unchanged.

use std::time::Duration;

use leadgen_core::place::Place;
use serde::Deserialize;
use serde_json::json;

use crate::http::HttpClient;
use crate::maps::{BoxFuture, MapsPage, MapsProvider, MapsQuery};
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "GOOGLE_PLACES";
pub const DEFAULT_BASE_URL: &str = "https://places.googleapis.com";
/// The largest `pageSize` the API takes.
pub const MAX_PAGE_SIZE: u32 = 20;
/// The largest location-bias radius the API takes, in meters.
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// Which fields a sweep asks for, and so which SKU it pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlacesFields {
    /// Name, address, types, location: the Pro SKU.
    Basic,
    /// Also phone numbers, website and opening hours: the Enterprise SKU.
    Contact,
    /// Also rating and review count: Enterprise + Atmosphere.
    #[default]
    Full,
}

impl PlacesFields {
    pub fn parse(s: &str) -> Option<PlacesFields> {
        match s {
            "basic" => Some(PlacesFields::Basic),
            "contact" => Some(PlacesFields::Contact),
            "full" => Some(PlacesFields::Full),
            _ => None,
        }
    }

    /// The `X-Goog-FieldMask` header.
    pub fn mask(self) -> String {
        let mut fields = vec![
            "places.id",
            "places.displayName",
            "places.formattedAddress",
            "places.addressComponents",
            "places.types",
            "places.location",
            "places.businessStatus",
        ];
        if self != PlacesFields::Basic {
            fields.extend([
                "places.nationalPhoneNumber",
                "places.internationalPhoneNumber",
                "places.websiteUri",
                "places.regularOpeningHours",
            ]);
        }
        if self == PlacesFields::Full {
            fields.extend(["places.rating", "places.userRatingCount"]);
        }
        fields.push("nextPageToken");
        fields.join(",")
    }

    /// List price per request in millionths of a dollar, first volume band
    /// (Pro $32, Enterprise $35 per 1,000). Google has not published the
    /// Atmosphere tier in the material we have; $40 per 1,000 is our
    /// estimate, and `cost_per_1000_usd` in config overrides all three.
    pub fn list_price_micros(self) -> u64 {
        match self {
            PlacesFields::Basic => 32_000,
            PlacesFields::Contact => 35_000,
            PlacesFields::Full => 40_000,
        }
    }
}

/// The Text Search client.
#[derive(Debug, Clone)]
pub struct PlacesClient {
    http: HttpClient,
    config: ServiceConfig,
    fields: PlacesFields,
    cost_micros: u64,
}

impl PlacesClient {
    pub fn new(
        config: ServiceConfig,
        fields: PlacesFields,
    ) -> Result<PlacesClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(PlacesClient {
            http: HttpClient::new("google_places", Duration::from_secs(30))?,
            cost_micros: fields.list_price_micros(),
            config,
            fields,
        })
    }

    pub fn from_env(fields: PlacesFields) -> Result<PlacesClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL), fields)
    }

    /// Overrides the price of one request (config `cost_per_1000_usd`).
    pub fn with_cost_micros(mut self, micros: u64) -> PlacesClient {
        self.cost_micros = micros;
        self
    }

    pub fn with_http(mut self, http: HttpClient) -> PlacesClient {
        self.http = http;
        self
    }

    /// The request body; identical for every page but the token.
    pub fn request_body(q: &MapsQuery, page: Option<&str>) -> serde_json::Value {
        let mut body = json!({
            "textQuery": q.query,
            "pageSize": q.page_size.clamp(1, MAX_PAGE_SIZE),
            "locationBias": {"circle": {
                "center": {"latitude": q.lat, "longitude": q.lon},
                "radius": q.radius_m.clamp(1.0, MAX_RADIUS_M),
            }},
        });
        if let Some(token) = page {
            body["pageToken"] = json!(token);
        }
        body
    }

    async fn search(
        &self,
        q: &MapsQuery,
        page: Option<&str>,
    ) -> Result<MapsPage, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}/v1/places:searchText", self.config.base_url);
        let body = Self::request_body(q, page);
        let mask = self.fields.mask();
        let resp: SearchResponse = self
            .http
            .json(|c| {
                c.post(&url)
                    .header("X-Goog-Api-Key", key)
                    .header("X-Goog-FieldMask", &mask)
                    .json(&body)
            })
            .await?;
        Ok(MapsPage {
            places: resp.places.into_iter().map(GPlace::into_place).collect(),
            next_page: resp.next_page_token.filter(|t| !t.is_empty()),
            cost_micros: self.cost_micros,
        })
    }
}

impl MapsProvider for PlacesClient {
    fn name(&self) -> &'static str {
        "google_places"
    }

    fn cost_per_request_micros(&self) -> u64 {
        self.cost_micros
    }

    fn search_page<'a>(
        &'a self,
        q: &'a MapsQuery,
        page: Option<&'a str>,
    ) -> BoxFuture<'a, Result<MapsPage, IntegrationError>> {
        Box::pin(self.search(q, page))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchResponse {
    #[serde(default)]
    places: Vec<GPlace>,
    next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GPlace {
    id: Option<String>,
    display_name: Option<LocalizedText>,
    formatted_address: Option<String>,
    address_components: Vec<AddressComponent>,
    national_phone_number: Option<String>,
    international_phone_number: Option<String>,
    website_uri: Option<String>,
    rating: Option<f32>,
    user_rating_count: Option<u32>,
    types: Vec<String>,
    location: Option<LatLng>,
    regular_opening_hours: Option<OpeningHours>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LocalizedText {
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AddressComponent {
    long_text: Option<String>,
    short_text: Option<String>,
    types: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LatLng {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OpeningHours {
    weekday_descriptions: Vec<String>,
}

impl GPlace {
    fn component(&self, kind: &str, short: bool) -> Option<String> {
        let c = self
            .address_components
            .iter()
            .find(|c| c.types.iter().any(|t| t == kind))?;
        if short {
            c.short_text.clone().or_else(|| c.long_text.clone())
        } else {
            c.long_text.clone().or_else(|| c.short_text.clone())
        }
    }

    fn into_place(self) -> Place {
        let street = match (
            self.component("street_number", false),
            self.component("route", false),
        ) {
            (Some(n), Some(r)) => Some(format!("{n} {r}")),
            (None, r) => r,
            (n, None) => n,
        };
        Place {
            place_id: self.id.clone(),
            name: self.display_name.as_ref().and_then(|d| d.text.clone()),
            address: self.formatted_address.clone(),
            street,
            city: self
                .component("locality", false)
                .or_else(|| self.component("postal_town", false)),
            state: self.component("administrative_area_level_1", true),
            postal_code: self.component("postal_code", false),
            country: self.component("country", true),
            phone: self
                .international_phone_number
                .clone()
                .or_else(|| self.national_phone_number.clone()),
            website: self.website_uri.clone(),
            rating: self.rating,
            review_count: self.user_rating_count,
            types: self.types.clone(),
            hours: self
                .regular_opening_hours
                .map(|h| h.weekday_descriptions)
                .unwrap_or_default(),
            lat: self.location.as_ref().and_then(|l| l.latitude),
            lon: self.location.as_ref().and_then(|l| l.longitude),
        }
    }
}

/// Decodes a Text Search response body into places, for benchmarks and
/// fixtures; the client does the same on every page.
pub fn parse_response(body: &str) -> Result<(Vec<Place>, Option<String>), serde_json::Error> {
    let r: SearchResponse = serde_json::from_str(body)?;
    Ok((
        r.places.into_iter().map(GPlace::into_place).collect(),
        r.next_page_token,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_asks_only_for_what_the_tier_pays_for() {
        let basic = PlacesFields::Basic.mask();
        assert!(basic.contains("places.displayName") && basic.ends_with("nextPageToken"));
        assert!(!basic.contains("Phone") && !basic.contains("rating"));
        let contact = PlacesFields::Contact.mask();
        assert!(contact.contains("places.websiteUri") && !contact.contains("rating"));
        assert!(PlacesFields::Full.mask().contains("places.userRatingCount"));
    }

    #[test]
    fn body_keeps_every_parameter_but_the_token_between_pages() {
        let q = MapsQuery {
            query: "dentist".into(),
            lat: 40.75,
            lon: -73.99,
            radius_m: 99_999.0,
            page_size: 50,
        };
        let first = PlacesClient::request_body(&q, None);
        let mut second = PlacesClient::request_body(&q, Some("tok"));
        assert_eq!(first["pageSize"], 20);
        assert_eq!(first["locationBias"]["circle"]["radius"], 50_000.0);
        assert_eq!(second["pageToken"], "tok");
        second.as_object_mut().unwrap().remove("pageToken");
        assert_eq!(first, second);
    }

    #[test]
    fn a_place_with_partial_fields_decodes() {
        let body = r#"{"places":[
          {"id":"A1","displayName":{"text":"Smile Dental","languageCode":"en"},
           "formattedAddress":"350 5th Ave, New York, NY 10118, USA",
           "addressComponents":[
             {"longText":"350","shortText":"350","types":["street_number"]},
             {"longText":"5th Avenue","shortText":"5th Ave","types":["route"]},
             {"longText":"New York","shortText":"New York","types":["locality","political"]},
             {"longText":"New York","shortText":"NY","types":["administrative_area_level_1","political"]},
             {"longText":"10118","shortText":"10118","types":["postal_code"]},
             {"longText":"United States","shortText":"US","types":["country","political"]}],
           "internationalPhoneNumber":"+1 212-555-0142","websiteUri":"https://smile.example/",
           "rating":4.7,"userRatingCount":301,"types":["dentist","health"],
           "location":{"latitude":40.7484,"longitude":-73.9857},
           "regularOpeningHours":{"weekdayDescriptions":["Monday: 9:00 AM – 5:00 PM"]}},
          {"id":"B2"}],
          "nextPageToken":"next"}"#;
        let (places, next) = parse_response(body).unwrap();
        assert_eq!(next.as_deref(), Some("next"));
        let a = &places[0];
        assert_eq!(a.name.as_deref(), Some("Smile Dental"));
        assert_eq!(a.street.as_deref(), Some("350 5th Avenue"));
        assert_eq!(
            (
                a.city.as_deref(),
                a.state.as_deref(),
                a.postal_code.as_deref(),
                a.country.as_deref()
            ),
            (Some("New York"), Some("NY"), Some("10118"), Some("US"))
        );
        assert_eq!(a.phone.as_deref(), Some("+1 212-555-0142"));
        assert_eq!((a.rating, a.review_count), (Some(4.7), Some(301)));
        assert_eq!(a.hours.len(), 1);
        assert_eq!(places[1].place_id.as_deref(), Some("B2"));
        assert!(places[1].name.is_none());
        assert_eq!(parse_response(r#"{}"#).unwrap().0.len(), 0);
    }
}
