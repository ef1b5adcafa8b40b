//! The privacy policy as data.
//!
//! A tour: [`model`] holds the types that mirror `policy.toml`; `load` parses and validates a
//! file into a [`Policy`], reporting every problem with its line and column; `render` writes
//! the notice for people; `diff` compares two versions and classes each change as material
//! or not. This crate does no I/O: callers hand it text and get values back.

pub mod model;

pub use model::*;

/// The bundled example policy (the Focusrite Group's notice), used when no file is given.
pub const EXAMPLE_POLICY: &str = include_str!("../../../examples/policy.toml");
