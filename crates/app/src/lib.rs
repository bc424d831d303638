//! Application services: the operations every entry point (CLI, API,
//! workers) calls. Handlers parse input, call one of these, render the result.

pub mod bench;
pub mod config;
pub mod csv_source;
pub mod discovery;
pub mod export;
pub mod import;
pub mod intent;
pub mod queue;
pub mod rejects;
pub mod sample;
pub mod verify_job;
