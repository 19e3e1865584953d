pub mod account;
pub mod home;
pub mod identify;
pub mod models;
pub mod not_found;
pub mod planned;
pub mod users;
