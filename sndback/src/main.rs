//! dom0 sndif backend (placeholder).
fn main() {}
