//! When and where a photo was taken, and whether its owner shares it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Where an observation's date and place came from (mirrors the domain's `ContextSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextSourceView {
    Photo,
    Device,
    Owner,
}

/// The date and place of one's own identification, as its owner sees and edits them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservationView {
    /// "YYYY-MM-DD HH:MM:SS", empty when unknown.
    pub taken_at: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub source: Option<ContextSourceView>,
    pub shared: bool,
}

#[cfg(feature = "ssr")]
pub(crate) fn observation_view(v: &insectid::services::history::IdentificationView) -> Option<ObservationView> {
    use insectid::entities::identification::ContextSource;
    if !v.owned {
        return None;
    }
    let context = v.context.clone().unwrap_or_default();
    Some(ObservationView {
        taken_at: context.taken_at.unwrap_or_default(),
        latitude: context.latitude,
        longitude: context.longitude,
        source: v.context_source.map(|s| match s {
            ContextSource::Photo => ContextSourceView::Photo,
            ContextSource::Device => ContextSourceView::Device,
            ContextSource::Owner => ContextSourceView::Owner,
        }),
        shared: v.shared,
    })
}

/// The owner sets the date and place (empty fields clear them) and whether to share; the
/// plain form post comes back to the result.
#[server(endpoint = "update_observation")]
pub async fn update_observation(
    id: i64,
    taken_at: String,
    latitude: String,
    longitude: String,
    shared: Option<String>,
) -> Result<(), AppError> {
    use crate::state::{answer, caller, Caller};
    use insectid::services::observation;
    let Caller { state, actor, .. } = caller().await?;
    let context = answer(observation::parse_context(&taken_at, &latitude, &longitude))?;
    let shared = shared.is_some_and(|s| s == "on" || s == "true");
    answer(observation::update(&state.db, actor.as_ref(), id, context, shared).await)?;
    leptos_axum::redirect(&format!("/results/{id}?observation=saved#observation"));
    Ok(())
}
