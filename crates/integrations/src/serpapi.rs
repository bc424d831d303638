//! SerpApi's Google Maps engine:
//! `GET /search.json?engine=google_maps&type=search&q=…&ll=@lat,lng,Nm&start=…`.
//!
//! Pages are offsets (0, 20, 40, …); SerpApi advises stopping near 100.
//! Errors come as `{"error": "…"}` with 400, 401 or 429; a search that
//! found nothing is a success with an `error` text and no results.

use std::time::Duration;

use leadgen_core::place::Place;
use serde::Deserialize;

use crate::http::HttpClient;
use crate::maps::{BoxFuture, MapsPage, MapsProvider, MapsQuery};
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "SERPAPI";
pub const DEFAULT_BASE_URL: &str = "https://serpapi.com";
/// Results per page of the Maps engine.
pub const PAGE: u32 = 20;
/// The deepest offset SerpApi recommends.
pub const MAX_START: u32 = 100;
/// One search on the Developer plan ($75 for 5,000); plans differ, so
/// config `cost_per_search_usd` overrides it.
pub const DEFAULT_COST_MICROS: u64 = 15_000;

#[derive(Debug, Clone)]
pub struct SerpApiClient {
    http: HttpClient,
    config: ServiceConfig,
    cost_micros: u64,
}

impl SerpApiClient {
    pub fn new(config: ServiceConfig) -> Result<SerpApiClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(SerpApiClient {
            http: HttpClient::new("serpapi", Duration::from_secs(60))?,
            config,
            cost_micros: DEFAULT_COST_MICROS,
        })
    }

    pub fn from_env() -> Result<SerpApiClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    pub fn with_cost_micros(mut self, micros: u64) -> SerpApiClient {
        self.cost_micros = micros;
        self
    }

    pub fn with_http(mut self, http: HttpClient) -> SerpApiClient {
        self.http = http;
        self
    }

    /// The `ll` parameter: the point and the height of the map in meters.
    pub fn ll(q: &MapsQuery) -> String {
        format!(
            "@{:.6},{:.6},{}m",
            q.lat,
            q.lon,
            (q.radius_m * 2.0).round().max(100.0)
        )
    }

    async fn search(
        &self,
        q: &MapsQuery,
        page: Option<&str>,
    ) -> Result<MapsPage, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let start: u32 = match page {
            None => 0,
            Some(p) => p.parse().map_err(|_| {
                IntegrationError::Config(format!("serpapi: page token {p:?} is not an offset"))
            })?,
        };
        let url = format!("{}/search.json", self.config.base_url);
        let params = [
            ("engine", "google_maps".to_owned()),
            ("type", "search".to_owned()),
            ("q", q.query.clone()),
            ("ll", Self::ll(q)),
            ("start", start.to_string()),
            ("api_key", key.to_owned()),
        ];
        let resp: SearchResponse = self.http.json(|c| c.get(&url).query(&params)).await?;
        // "Google hasn't returned any results" is an empty page, not an error.
        if let Some(err) = resp
            .error
            .as_deref()
            .filter(|e| resp.local_results.is_empty() && !e.contains("hasn't returned any results"))
        {
            return Err(IntegrationError::BadRequest {
                service: "serpapi",
                status: 200,
                message: err.to_owned(),
            });
        }
        let more = resp.local_results.len() as u32 >= PAGE
            || resp
                .serpapi_pagination
                .as_ref()
                .is_some_and(|p| p.next.is_some());
        let next = start + PAGE;
        Ok(MapsPage {
            places: resp
                .local_results
                .into_iter()
                .map(LocalResult::into_place)
                .collect(),
            next_page: (more && next < MAX_START).then(|| next.to_string()),
            cost_micros: self.cost_micros,
        })
    }
}

impl MapsProvider for SerpApiClient {
    fn name(&self) -> &'static str {
        "serpapi"
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchResponse {
    local_results: Vec<LocalResult>,
    error: Option<String>,
    serpapi_pagination: Option<Pagination>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pagination {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LocalResult {
    title: Option<String>,
    place_id: Option<String>,
    rating: Option<f32>,
    reviews: Option<u32>,
    #[serde(rename = "type")]
    kind: Option<String>,
    types: Vec<String>,
    address: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    /// A string ("Open ⋅ Closes 5 PM") or a list of day objects.
    hours: Option<serde_json::Value>,
    gps_coordinates: Option<Gps>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Gps {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl LocalResult {
    fn into_place(self) -> Place {
        let mut types = self.types;
        if let Some(k) = self.kind.filter(|k| !types.contains(k)) {
            types.insert(0, k);
        }
        let hours = match self.hours {
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(days)) => days.iter().map(|d| d.to_string()).collect(),
            _ => Vec::new(),
        };
        Place {
            place_id: self.place_id,
            name: self.title,
            address: self.address,
            phone: self.phone,
            website: self.website,
            rating: self.rating,
            review_count: self.reviews,
            types: types
                .iter()
                .map(|t| t.to_lowercase().replace(' ', "_"))
                .collect(),
            hours,
            lat: self.gps_coordinates.as_ref().and_then(|g| g.latitude),
            lon: self.gps_coordinates.as_ref().and_then(|g| g.longitude),
            ..Place::default()
        }
    }
}

/// Decodes a response body into places, as the client does.
pub fn parse_response(body: &str) -> Result<Vec<Place>, serde_json::Error> {
    let r: SearchResponse = serde_json::from_str(body)?;
    Ok(r.local_results
        .into_iter()
        .map(LocalResult::into_place)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_results_decode_with_missing_fields() {
        let body = r#"{"search_metadata":{"status":"Success"},"local_results":[
          {"position":1,"title":"Smile Dental","place_id":"ChIJ1","rating":4.8,"reviews":120,
           "type":"Dentist","types":["Dentist","Cosmetic dentist"],
           "address":"350 5th Ave, New York, NY 10118","phone":"(212) 555-0142",
           "website":"https://smile.example/","hours":"Open ⋅ Closes 5 PM",
           "gps_coordinates":{"latitude":40.7484,"longitude":-73.9857}},
          {"position":2,"title":"Bare"}]}"#;
        let p = parse_response(body).unwrap();
        assert_eq!(p[0].types, ["dentist", "cosmetic_dentist"]);
        assert_eq!(p[0].review_count, Some(120));
        assert_eq!(p[0].hours, ["Open ⋅ Closes 5 PM"]);
        assert_eq!(p[1].name.as_deref(), Some("Bare"));
        assert!(p[1].address.is_none());
    }

    #[test]
    fn ll_is_the_point_and_map_height() {
        let q = MapsQuery {
            query: "x".into(),
            lat: 40.7,
            lon: -74.0,
            radius_m: 2500.0,
            page_size: 20,
        };
        assert_eq!(SerpApiClient::ll(&q), "@40.700000,-74.000000,5000m");
    }
}
