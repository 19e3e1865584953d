//! The labelling workspace: the next photo to label and a labeler's decision on it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The next photo to label, with the labeler counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelTask {
    pub item: Option<LabelItem>,
    pub labels_per_photo: u32,
    /// (labeler name, labelled, skipped)
    pub counts: Vec<(String, u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelItem {
    pub image_sha256: String,
    pub identification_id: i64,
    pub suggestions: Vec<(String, f32)>,
    pub proposed: Vec<String>,
    pub votes: Vec<(String, u32)>,
    pub waiting: u64,
}

#[server(endpoint = "label_task")]
pub async fn get_label_task() -> Result<LabelTask, AppError> {
    use insectid::services::labels;
    let caller = crate::state::caller().await?;
    let db = &caller.state.db;
    let next = crate::state::answer(labels::next(db, caller.actor.as_ref()).await)?;
    let counts = crate::state::answer(labels::counts(db, caller.actor.as_ref()).await)?;
    let mut named = Vec::new();
    for c in counts {
        let name = crate::state::answer(insectid::services::users::display_name(db, c.labeler_id).await)?;
        named.push((name, c.labeled, c.skipped));
    }
    Ok(LabelTask {
        item: next.map(|n| LabelItem {
            image_sha256: n.image_sha256,
            identification_id: n.identification_id,
            suggestions: n.suggestions,
            proposed: n.proposed,
            votes: n.votes.into_iter().collect(),
            waiting: n.waiting,
        }),
        labels_per_photo: caller.state.labels_per_photo,
        counts: named,
    })
}

/// Labels a photo (a suggestion `pick`ed, or a typed `label`), skips it (`skip` set), or takes
/// back the last one (`undo` set).
#[server(endpoint = "label_photo")]
pub async fn label_photo(
    sha: String,
    pick: Option<String>,
    label: Option<String>,
    skip: Option<String>,
    undo: Option<String>,
) -> Result<Option<String>, AppError> {
    use insectid::services::labels;
    let caller = crate::state::caller().await?;
    let (db, required) = (&caller.state.db, caller.state.labels_per_photo);
    let outcome = if undo.is_some() {
        labels::undo(db, caller.actor.as_ref(), required).await
    } else if skip.is_some() {
        labels::vote(db, caller.actor.as_ref(), &sha, None, required).await
    } else {
        match pick.as_deref().or(label.as_deref()).map(str::trim).filter(|l| !l.is_empty()) {
            Some(l) => labels::vote(db, caller.actor.as_ref(), &sha, Some(l), required).await,
            None => return Err(AppError::InvalidInput("choose a label, or skip the photo".into())),
        }
    };
    let decided = crate::state::answer(outcome)?;
    leptos_axum::redirect("/label");
    Ok(decided)
}
