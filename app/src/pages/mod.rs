pub mod account;
pub mod feedback;
pub mod home;
pub mod identify;
pub mod label;
pub mod models;
pub mod not_found;
pub mod planned;
pub mod species;
pub mod terminal;
pub mod upload;
#[cfg(feature = "hydrate")]
mod upload_progress;
pub mod users;
