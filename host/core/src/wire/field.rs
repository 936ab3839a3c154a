//! Bounds-checked big-endian reader used by every parser (never panics).
