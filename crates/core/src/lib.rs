//! leadgen's domain: the types a lead is made of, the parsers that build them
//! from raw strings, dedupe keys, merge rules and scoring.
//!
//! Nothing in this crate does IO, spawns threads or reads the clock: callers
//! pass `now`. It is the hot path of ingest and is benchmarked in `benches/`.

/// `as_str`, `parse`, `ALL` and `Display` for a fieldless enum stored as text.
macro_rules! str_enum {
    ($ty:ident { $($var:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$var => $s),+ }
            }
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($s => Some($ty::$var),)+ _ => None }
            }
            pub const ALL: &'static [$ty] = &[$($ty::$var),+];
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod ads;
pub mod company;
pub mod dedupe;
pub mod domain;
pub mod email;
pub mod geo;
pub mod hex;
pub mod intent;
pub mod job;
pub mod lead;
pub mod linkedin;
pub mod mapping;
pub mod names;
pub mod phone;
mod phone_valid;
pub mod place;
pub mod record;
pub mod reply;
pub mod score;
pub mod segment;
mod text;
pub mod zipcodes;

pub use lead::Field;
pub use lead::{Lead, LeadId, RecordId, SourceRef};

/// A tenant. Every stored row belongs to exactly one workspace.
pub type WorkspaceId = i64;

/// The workspace a fresh install works in.
pub const DEFAULT_WORKSPACE: WorkspaceId = 1;
