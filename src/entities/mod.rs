//! sea-orm entities, one module per table.

pub mod api_token;
pub mod audit_event;
pub mod class_description;
pub mod dataset;
pub mod dataset_item;
pub mod dataset_version;
pub mod feedback;
pub mod identification;
pub mod import_job;
pub mod job;
pub mod label_vote;
pub mod login_failure;
pub mod model_version;
pub mod pest_alert;
pub mod pest_alert_notice;
pub mod pest_alert_subscriber;
pub mod photo_embedding;
pub mod photo_label;
pub mod session;
pub mod shadow_prediction;
pub mod ssh_host_key;
pub mod user;
