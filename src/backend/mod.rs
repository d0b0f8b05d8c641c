//! backend (placeholder: filled in by its issue).
