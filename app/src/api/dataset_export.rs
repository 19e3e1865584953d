//! Dataset downloads from the Datasets page: ask for a version as a .zip (queued as a job),
//! see it come along, download it from `/jobs/{id}/export.zip`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One of the signed-in person's downloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadView {
    pub job_id: i64,
    pub dataset: String,
    pub layout: String,
    pub state: crate::api::JobStateView,
    pub ready: bool,
    pub error: String,
}

/// Queues a .zip of a dataset version (`spec` NAME@N; `layout` ip102 or folders).
#[server(endpoint = "export_dataset")]
pub async fn export_dataset(spec: String, layout: String) -> Result<i64, AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(c.state.disk.check())?;
    let job = crate::state::answer(
        insectid::services::dataset_export::request(&c.state.db, c.actor.as_ref(), &spec, &layout).await,
    )?;
    c.state.jobs.wake.notify_one();
    leptos_axum::redirect("/datasets");
    Ok(job.id)
}

#[server(endpoint = "my_downloads")]
pub async fn get_my_downloads() -> Result<Vec<DownloadView>, AppError> {
    let c = crate::state::caller().await?;
    let list = insectid::services::dataset_export::mine(&c.state.db, &c.state.jobs.dir, c.actor.as_ref(), 10).await;
    let list = crate::state::answer(list)?;
    Ok(list
        .into_iter()
        .map(|e| DownloadView {
            job_id: e.job_id,
            dataset: e.dataset,
            layout: e.layout,
            state: e.state.into(),
            ready: e.ready,
            error: e.error,
        })
        .collect())
}
