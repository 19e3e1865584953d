pub mod account;
pub mod commands;
pub mod datasets;
pub mod feedback;
pub mod history;
pub mod home;
pub mod jobs;
pub mod label;
pub mod model_quality;
pub mod models;
pub mod not_found;
pub mod result;
pub mod species;
pub mod terminal;
pub mod upload;
#[cfg(feature = "hydrate")]
mod upload_progress;
pub mod users;
