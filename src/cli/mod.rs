//! The command-line front.
