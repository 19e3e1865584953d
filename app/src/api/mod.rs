//! Server functions: each takes the request's inputs, calls one service, returns plain data.
//! Every one has a fixed endpoint so URLs stay stable across builds.

pub mod accounts;
pub mod admin;
pub mod alert_mail;
pub mod api_tokens;
pub mod class_descriptions;
pub mod dataset_export;
pub mod datasets;
pub mod feedback;
pub mod history;
pub mod identify;
pub mod jobs;
pub mod labelling;
pub mod model_quality;
pub mod models;
pub mod observation;
pub mod photo_search;
pub mod portal;
pub mod pressure;
pub mod species;
pub mod terminal;

pub use accounts::*;
pub use admin::*;
pub use alert_mail::*;
pub use api_tokens::*;
pub use class_descriptions::*;
pub use dataset_export::*;
pub use datasets::*;
pub use feedback::*;
pub use history::*;
pub use identify::*;
pub use jobs::*;
pub use labelling::*;
pub use model_quality::*;
pub use models::*;
pub use observation::*;
pub use photo_search::*;
pub use portal::*;
pub use pressure::*;
pub use species::*;
pub use terminal::*;
