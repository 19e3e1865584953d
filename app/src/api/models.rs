//! The model registry for administrators: versions, install, activate, roll back, delete.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersionView {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub source: String,
    pub description: String,
    pub classes: i32,
    pub active: bool,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub identifications: u64,
    /// The latest evaluation of this version: "top-1 … on dataset (split)".
    pub evaluation: Option<String>,
}

#[server(endpoint = "model_versions")]
pub async fn get_model_versions() -> Result<Vec<ModelVersionView>, AppError> {
    let caller = crate::state::caller().await?;
    let list = crate::state::answer(insectid::services::models::list(&caller.state.db, caller.actor.as_ref()).await)?;
    // Newest first, so the first seen per version is its latest evaluation.
    let mut evaluations = std::collections::HashMap::new();
    for (_, r) in
        crate::state::answer(insectid::jobs::reports::evaluations(&caller.state.db, caller.actor.as_ref(), 200).await)?
    {
        evaluations.entry(r.model_version_id).or_insert_with(|| {
            format!("top-1 {:.1} %, top-5 {:.1} % on {} ({})", r.top1 * 100.0, r.top5 * 100.0, r.dataset, r.split)
        });
    }
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Ok(list
        .into_iter()
        .map(|v| ModelVersionView {
            id: v.model.id,
            name: v.model.name,
            version: v.model.version,
            source: v.model.source.as_str().to_string(),
            description: v.model.description,
            classes: v.model.classes,
            active: v.model.active,
            created_at: when(v.model.created_at),
            activated_at: v.model.activated_at.map(when),
            identifications: v.identifications,
            evaluation: evaluations.get(&v.model.id).cloned(),
        })
        .collect())
}

#[server(endpoint = "activate_model")]
pub async fn activate_model(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    let row = crate::state::answer(
        insectid::services::models::activate(&c.state.db, &c.state.engine, c.actor.as_ref(), id, Some(&c.addr)).await,
    )?;
    c.state.heatmaps.reload(row.dir.into(), c.state.engine.active().manifest.clone()).await;
    leptos_axum::redirect("/models");
    Ok(())
}

#[server(endpoint = "rollback_model")]
pub async fn rollback_model() -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    let row = crate::state::answer(
        insectid::services::models::rollback(&c.state.db, &c.state.engine, c.actor.as_ref(), Some(&c.addr)).await,
    )?;
    c.state.heatmaps.reload(row.dir.into(), c.state.engine.active().manifest.clone()).await;
    leptos_axum::redirect("/models");
    Ok(())
}

#[server(endpoint = "delete_model")]
pub async fn delete_model(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(insectid::services::models::delete(&c.state.db, c.actor.as_ref(), id, Some(&c.addr)).await)?;
    leptos_axum::redirect("/models");
    Ok(())
}

/// A bundle as a .zip (manifest.json, model.pt, …), streamed to disk, then validated.
#[server(endpoint = "upload_model", input = MultipartFormData)]
pub async fn upload_model(data: MultipartData) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::users::require(c.actor.as_ref(), insectid::auth::Role::Admin).map(|_| ()),
    )?;
    crate::state::answer(c.state.disk.check())?;
    let Some(mut multipart) = data.into_inner() else {
        return Err(AppError::InvalidInput("the upload arrived without a body".into()));
    };
    let models_dir = c.state.models_dir.clone();
    let archive =
        models_dir.join(format!(".upload-{}.zip", chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()));
    let received: Result<usize, AppError> = async {
        let mut n = 0usize;
        while let Some(mut field) =
            multipart.next_field().await.map_err(|e| AppError::InvalidInput(format!("malformed upload: {e}")))?
        {
            if field.name() != Some("bundle") {
                return Err(AppError::InvalidInput("send the bundle in a field named \"bundle\"".into()));
            }
            n = insectid::services::archive::receive(&mut field, &archive, "the bundle").await?;
        }
        Ok(n)
    }
    .await;
    let outcome = match received {
        Ok(0) => Err(AppError::InvalidInput("choose a bundle (.zip) to upload".into())),
        Ok(_) => {
            insectid::services::models::install_zip(&c.state.db, c.actor.as_ref(), &models_dir, &archive, Some(&c.addr))
                .await
                .map(|_| ())
                .map_err(AppError::from)
        }
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&archive);
    match outcome {
        Ok(()) => {
            leptos_axum::redirect("/models");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
