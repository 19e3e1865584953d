//! Insect Identifier's domain library: database entities, services and the inference engine.
//!
//! Nothing here knows about HTTP or Leptos: the `app` crate's server functions and the `server`
//! binary call these plain functions and map [`ServiceError`] to their own transport.

pub mod auth;
pub mod catalogue;
pub mod db;
pub mod entities;
pub mod error;
pub mod inference;
pub mod jobs;
pub mod mail;
pub mod services;
pub mod storage;
pub mod terminal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod training;

pub use error::ServiceError;
