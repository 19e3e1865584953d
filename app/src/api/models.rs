//! The model registry for administrators: versions, install, activate, roll back, delete.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    crate::state::answer(model_versions_for(&caller.state, caller.actor.as_ref()).await)
}

/// The registry as administrators see it (pages and the REST API alike).
#[cfg(feature = "ssr")]
pub async fn model_versions_for(
    state: &crate::state::AppState,
    actor: Option<&insectid::auth::Account>,
) -> Result<Vec<ModelVersionView>, insectid::ServiceError> {
    let list = insectid::services::models::list(&state.db, actor).await?;
    // Newest first, so the first seen per version is its latest evaluation.
    let mut evaluations = std::collections::HashMap::new();
    for (_, r) in insectid::jobs::reports::evaluations(&state.db, actor, 200).await? {
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
    crate::state::answer(activate_for(&c.state, c.actor.as_ref(), id, &c.addr).await)?;
    leptos_axum::redirect("/models");
    Ok(())
}

/// Makes a version the one that answers, heat maps included (pages and the REST API alike).
#[cfg(feature = "ssr")]
pub async fn activate_for(
    state: &crate::state::AppState,
    actor: Option<&insectid::auth::Account>,
    id: i64,
    client_addr: &str,
) -> Result<insectid::entities::model_version::Model, insectid::ServiceError> {
    let row = insectid::services::models::activate(&state.db, &state.engine, actor, id, Some(client_addr)).await?;
    state.heatmaps.reload(row.dir.clone().into(), state.engine.active().manifest.clone()).await;
    Ok(row)
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
