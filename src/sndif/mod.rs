//! sndif (placeholder: filled in by its issue).

pub mod config;
pub mod format;
pub mod negotiate;
