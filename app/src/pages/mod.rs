pub mod account;
pub mod commands;
pub mod feedback;
pub mod home;
pub mod identify;
pub mod label;
pub mod model_quality;
pub mod models;
pub mod not_found;
pub mod species;
pub mod terminal;
pub mod upload;
#[cfg(feature = "hydrate")]
mod upload_progress;
pub mod users;
