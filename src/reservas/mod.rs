//! The purchase saga.
