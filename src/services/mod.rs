//! Services: plain async functions over a `&DatabaseConnection` (and the inference engine),
//! holding the business rules. Callers own transport concerns.

pub mod accounts;
pub mod answer_rates;
pub mod api_tokens;
pub mod archive;
pub mod audit;
pub mod class_descriptions;
pub mod comparison;
pub mod dataset_export;
pub mod dataset_import;
pub mod datasets;
pub mod evaluation;
pub mod feedback;
pub mod fine_tune;
pub mod history;
pub mod identify;
pub mod integrity;
pub mod labels;
pub mod models;
pub mod observation;
pub mod photo_search;
pub mod pressure;
pub mod prototypes;
pub mod retention;
pub mod shadow;
pub mod species;
pub mod species_photos;
pub mod stats;
pub mod users;
