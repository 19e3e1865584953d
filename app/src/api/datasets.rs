//! Dataset versions and imports, for the Datasets page.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    pub dataset: String,
    pub version: i32,
    pub state: String,
    /// Frozen and usable (exports, fine-tuning, evaluation).
    pub ready: bool,
    pub origin: String,
    pub items: i32,
    pub classes: i32,
    pub per_split: [u64; 3],
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportView {
    pub id: i64,
    pub dataset: String,
    pub version: i32,
    pub source: String,
    pub layout: String,
    pub state: String,
    pub running: bool,
    pub total: i32,
    pub done: i32,
    pub imported: i32,
    /// (path, reason)
    pub skipped: Vec<(String, String)>,
    pub error: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetsOverview {
    pub versions: Vec<VersionView>,
    pub imports: Vec<ImportView>,
    /// The server directory imports come from (administrators only see it).
    pub import_dir: Option<String>,
    pub labelled_photos: u64,
    /// Import jobs queued or running (an import shows in `imports` once a runner starts it).
    pub pending_imports: u64,
}

#[server(endpoint = "datasets")]
pub async fn get_datasets() -> Result<DatasetsOverview, AppError> {
    use insectid::services::{dataset_import, datasets};
    let caller = crate::state::caller().await?;
    let db = &caller.state.db;
    let list = crate::state::answer(datasets::list(db, caller.actor.as_ref()).await)?;
    let versions: Vec<VersionView> = list
        .into_iter()
        .map(|s| VersionView {
            dataset: s.dataset,
            version: s.version.version,
            state: s.version.state.as_str().to_string(),
            ready: s.version.state == insectid::entities::dataset_version::VersionState::Ready,
            origin: s.version.origin,
            items: s.version.items,
            classes: s.version.classes,
            per_split: s.per_split,
            created_at: s.version.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let jobs = crate::state::answer(dataset_import::jobs(db).await)?;
    let imports = jobs
        .into_iter()
        .map(|s| {
            let j = s.job;
            let skipped: Vec<dataset_import::Skipped> = serde_json::from_str(&j.skipped).unwrap_or_default();
            ImportView {
                id: j.id,
                dataset: s.dataset,
                version: s.version,
                source: j.source,
                layout: j.layout,
                state: j.state.as_str().to_string(),
                running: j.state == insectid::entities::import_job::ImportState::Running,
                total: j.total,
                done: j.done,
                imported: j.imported,
                skipped: skipped.into_iter().map(|s| (s.path, s.reason)).collect(),
                error: j.error,
                seconds: j.seconds,
            }
        })
        .collect();
    let admin = caller.actor.as_ref().is_some_and(|a| a.role == insectid::auth::Role::Admin);
    let labelled_photos = crate::state::answer(insectid::services::labels::labelled_count(db).await)?;
    let pending_imports =
        crate::state::answer(insectid::jobs::queue::pending_of_kind(db, insectid::jobs::JobKind::ImportDataset).await)?;
    Ok(DatasetsOverview {
        versions,
        imports,
        import_dir: admin.then(|| caller.state.import_dir.display().to_string()),
        labelled_photos,
        pending_imports,
    })
}

/// A new version of `name` from every photo's decided label.
#[server(endpoint = "create_dataset_version")]
pub async fn create_dataset_version(name: String, seed: Option<u64>) -> Result<i32, AppError> {
    let caller = crate::state::caller().await?;
    let v = crate::state::answer(
        insectid::services::datasets::create_from_labels(
            &caller.state.db,
            caller.actor.as_ref(),
            &name,
            seed.unwrap_or(1),
        )
        .await,
    )?;
    leptos_axum::redirect("/datasets");
    Ok(v.version)
}

/// Starts importing `folder` (inside the import directory) as a new version of `name`; the
/// import runs in the background and the page follows its progress.
#[server(endpoint = "import_dataset")]
pub async fn import_dataset(name: String, folder: String) -> Result<i64, AppError> {
    let caller = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::users::require(caller.actor.as_ref(), insectid::auth::Role::Admin).map(|_| ()),
    )?;
    let dir =
        crate::state::answer(insectid::services::dataset_import::folder_inside(&caller.state.import_dir, &folder))?;
    let job = start_import(&caller.state, caller.actor.as_ref(), &name, &dir).await?;
    leptos_axum::redirect("/datasets");
    Ok(job)
}

/// A dataset as a .zip archive (IP102 layout or class folders inside), unpacked safely into
/// the import directory and imported like a folder.
#[server(endpoint = "upload_dataset", input = MultipartFormData)]
pub async fn upload_dataset(data: MultipartData) -> Result<i64, AppError> {
    let caller = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::users::require(caller.actor.as_ref(), insectid::auth::Role::Admin).map(|_| ()),
    )?;
    crate::state::answer(caller.state.disk.check())?;
    let Some(mut multipart) = data.into_inner() else {
        return Err(AppError::InvalidInput("the upload arrived without a body".into()));
    };
    let import_dir = caller.state.import_dir.clone();
    let stamp = format!("upload-{}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), std::process::id());
    let archive_path = import_dir.join(format!("{stamp}.zip"));
    let mut name = String::new();
    let mut received = 0usize;
    let outcome: Result<(), AppError> = async {
        while let Some(mut field) =
            multipart.next_field().await.map_err(|e| AppError::InvalidInput(format!("malformed upload: {e}")))?
        {
            match field.name().unwrap_or_default() {
                "name" => {
                    name = crate::upload::small_field(&mut field, crate::upload::MAX_SMALL_FIELD_BYTES)
                        .await?
                        .trim()
                        .to_string()
                }
                "archive" => {
                    received = insectid::services::archive::receive(&mut field, &archive_path, "the archive").await?
                }
                other => return Err(AppError::InvalidInput(format!("unexpected field {other:?}"))),
            }
        }
        if received == 0 {
            return Err(AppError::InvalidInput("choose a .zip archive to upload".into()));
        }
        insectid::services::datasets::check_name(&name).map(|_| ()).map_err(AppError::from)
    }
    .await;
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&archive_path);
        return Err(e);
    }
    let target = import_dir.join(&stamp);
    let (from, to) = (archive_path.clone(), target.clone());
    let unpacked = tokio::task::spawn_blocking(move || insectid::services::archive::unpack_zip_file(&from, &to))
        .await
        .map_err(AppError::internal)?;
    let _ = std::fs::remove_file(&archive_path);
    let root = match unpacked {
        Ok(root) => root,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&target);
            return Err(AppError::InvalidInput(format!("the archive was refused: {e}")));
        }
    };
    let job = start_import(&caller.state, caller.actor.as_ref(), &name, &root).await?;
    leptos_axum::redirect("/datasets");
    Ok(job)
}

/// Queues the import as a background job (any instance's runner takes it; an interrupted
/// import resumes into the same version).
#[cfg(feature = "ssr")]
async fn start_import(
    state: &crate::state::AppState,
    actor: Option<&insectid::auth::Account>,
    name: &str,
    dir: &std::path::Path,
) -> Result<i64, AppError> {
    crate::state::answer(state.disk.check())?;
    let base = state.import_dir.canonicalize().map_err(|e| AppError::internal(format!("import directory: {e}")))?;
    let folder = dir
        .strip_prefix(&base)
        .map_err(|_| AppError::InvalidInput("the folder is not inside the import directory".into()))?;
    let spec =
        insectid::jobs::JobSpec::ImportDataset { name: name.trim().to_string(), folder: folder.display().to_string() };
    let job = crate::state::answer(insectid::jobs::queue::submit(&state.db, actor, &spec, "import-dataset").await)?;
    state.jobs.wake.notify_one();
    Ok(job.id)
}
