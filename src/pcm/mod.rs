//! pcm (placeholder: filled in by its issue).
