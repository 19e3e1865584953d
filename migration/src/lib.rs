//! Schema migrations, applied in order at server start (`insectid serve`) or by this crate's CLI.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_identification;
mod m20261128_000002_create_accounts;
mod m20261129_000003_create_feedback_and_datasets;
mod m20261129_000004_create_ssh_host_key;
mod m20261129_000005_create_model_version;
mod m20261129_000006_create_jobs_and_shadow;
mod m20261130_000007_add_query_indexes;
mod m20261130_000008_add_label_decided;
mod m20261201_000009_add_photo_context;
mod m20261202_000010_add_foreign_keys;
mod m20261203_000011_add_observation_sharing;
mod m20261204_000012_create_pest_alerts;
mod m20261205_000013_add_alert_mail;
mod m20261206_000014_create_api_token;
mod m20261207_000015_create_class_description;
mod m20261208_000016_create_photo_embedding;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_identification::Migration),
            Box::new(m20261128_000002_create_accounts::Migration),
            Box::new(m20261129_000003_create_feedback_and_datasets::Migration),
            Box::new(m20261129_000004_create_ssh_host_key::Migration),
            Box::new(m20261129_000005_create_model_version::Migration),
            Box::new(m20261129_000006_create_jobs_and_shadow::Migration),
            Box::new(m20261130_000007_add_query_indexes::Migration),
            Box::new(m20261130_000008_add_label_decided::Migration),
            Box::new(m20261201_000009_add_photo_context::Migration),
            Box::new(m20261202_000010_add_foreign_keys::Migration),
            Box::new(m20261203_000011_add_observation_sharing::Migration),
            Box::new(m20261204_000012_create_pest_alerts::Migration),
            Box::new(m20261205_000013_add_alert_mail::Migration),
            Box::new(m20261206_000014_create_api_token::Migration),
            Box::new(m20261207_000015_create_class_description::Migration),
            Box::new(m20261208_000016_create_photo_embedding::Migration),
        ]
    }
}
