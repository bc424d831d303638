//! Application services: the operations every entry point (CLI, API,
//! workers) calls. Handlers parse input, call one of these, render the result.

pub mod bench;
pub mod campaigns;
pub mod companies;
pub mod config;
pub mod connection_test;
pub mod consent;
pub mod csv_source;
pub mod delivery;
pub mod discovery;
pub mod enrich_job;
pub mod export;
pub mod import;
pub mod intent;
pub mod lead_batch;
pub mod lead_jobs;
pub mod queue;
pub mod rejects;
pub mod remote_enrich;
pub mod remote_jobs;
pub mod sample;
pub mod settings;
pub mod verify_job;

pub mod webhook_intake;

pub use companies::company_domain_key;
