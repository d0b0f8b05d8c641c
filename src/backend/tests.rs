//! Unit tests of the backend engine's pure parts.
