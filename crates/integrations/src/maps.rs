//! One trait for every maps provider: a text search around a point, a page
//! at a time, with what each page cost.

use std::future::Future;
use std::pin::Pin;

use leadgen_core::place::Place;

use crate::IntegrationError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A search for businesses matching `query` near a point.
#[derive(Debug, Clone, PartialEq)]
pub struct MapsQuery {
    pub query: String,
    pub lat: f64,
    pub lon: f64,
    /// How far from the point results should lie, in meters (a bias: the
    /// providers may still return places outside it).
    pub radius_m: f64,
    /// Results wanted per page (at most 20 on both providers).
    pub page_size: u32,
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapsPage {
    pub places: Vec<Place>,
    /// Pass to the next call for more; `None` when there is no more.
    pub next_page: Option<String>,
    /// What this request cost, in millionths of a US dollar.
    pub cost_micros: u64,
}

pub trait MapsProvider: Send + Sync {
    /// `places` or `serpapi`: names the source of what it finds.
    fn name(&self) -> &'static str;
    /// The price of one request, in millionths of a US dollar, for run
    /// estimates before anything is spent.
    fn cost_per_request_micros(&self) -> u64;
    /// One page of results; `page` is the previous page's `next_page`.
    fn search_page<'a>(
        &'a self,
        q: &'a MapsQuery,
        page: Option<&'a str>,
    ) -> BoxFuture<'a, Result<MapsPage, IntegrationError>>;
}
