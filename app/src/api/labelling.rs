//! Feedback on results, its review, and the labelling workspace.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One's own feedback on a result, as the result page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackView {
    pub id: i64,
    pub identification_id: i64,
    pub image_sha256: String,
    pub user_id: i64,
    pub kind: String,
    pub label: Option<String>,
    pub model_label: String,
    pub model_version: String,
    pub comment: String,
    /// pending, accepted or rejected.
    pub state: String,
    pub reason: Option<String>,
    pub created_at: String,
}

#[cfg(feature = "ssr")]
pub(crate) fn feedback_view(f: insectid::entities::feedback::Model) -> FeedbackView {
    FeedbackView {
        id: f.id,
        identification_id: f.identification_id,
        image_sha256: f.image_sha256,
        user_id: f.user_id,
        kind: f.kind,
        label: f.label,
        model_label: f.model_label,
        model_version: f.model_version,
        comment: f.comment,
        state: f.state,
        reason: f.reason,
        created_at: f.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// Every class a person may name: the catalogue's species and the active model's arthropods.
#[cfg(feature = "ssr")]
fn label_choices(state: &crate::state::AppState) -> Vec<String> {
    let mut all: Vec<String> = insectid::catalogue::all().iter().map(|s| s.name_en.clone()).collect();
    for l in state.engine.active().manifest.labels.iter().filter(|l| l.taxon.is_some()) {
        if !all.iter().any(|a| a.eq_ignore_ascii_case(&l.name)) {
            all.push(l.name.clone());
        }
    }
    all
}

#[server(endpoint = "label_choices")]
pub async fn get_label_choices() -> Result<Vec<String>, AppError> {
    Ok(label_choices(&crate::state::app_state()?))
}

/// Sends or edits the caller's feedback on an identification, then shows the result again.
#[server(endpoint = "send_feedback")]
pub async fn send_feedback(
    identification: i64,
    kind: String,
    label: Option<String>,
    comment: Option<String>,
) -> Result<FeedbackView, AppError> {
    use insectid::services::feedback::{submit, FeedbackForm, Kind};
    let caller = crate::state::caller().await?;
    let kind = crate::state::answer(Kind::parse(&kind))?;
    let choices = label_choices(&caller.state);
    let known = |typed: &str| choices.iter().find(|c| c.eq_ignore_ascii_case(typed)).cloned();
    let form = FeedbackForm { kind, label: label.unwrap_or_default(), comment: comment.unwrap_or_default() };
    let saved =
        crate::state::answer(submit(&caller.state.db, caller.actor.as_ref(), identification, form, &known).await)?;
    leptos_axum::redirect(&format!("/results/{identification}?feedback=sent#feedback"));
    Ok(feedback_view(saved))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackQueue {
    pub items: Vec<FeedbackView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

pub const FEEDBACK_PER_PAGE: u64 = 25;

#[server(endpoint = "feedback_queue")]
pub async fn get_feedback_queue(
    state: String,
    species: String,
    model_version: String,
    from: String,
    to: String,
    page: u64,
) -> Result<FeedbackQueue, AppError> {
    use insectid::services::feedback::{queue, QueueFilter};
    let caller = crate::state::caller().await?;
    let date = |s: &str, what: &str| -> Result<Option<chrono::NaiveDate>, AppError> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::InvalidInput(format!("{what} must be a date like 2026-11-28")))
    };
    let filter = match (date(&from, "from"), date(&to, "to")) {
        (Ok(from), Ok(to)) => QueueFilter { state, species, model_version, from, to },
        (Err(e), _) | (_, Err(e)) => return crate::state::fail(e),
    };
    let p =
        crate::state::answer(queue(&caller.state.db, caller.actor.as_ref(), &filter, page, FEEDBACK_PER_PAGE).await)?;
    Ok(FeedbackQueue {
        items: p.items.into_iter().map(feedback_view).collect(),
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    })
}

/// Accepts or rejects the chosen feedback (`ids` from the queue's check boxes).
#[server(endpoint = "review_feedback")]
pub async fn review_feedback(
    #[server(default)] ids: Vec<i64>,
    decision: String,
    reason: Option<String>,
) -> Result<usize, AppError> {
    use insectid::services::feedback::{review, Decision};
    let caller = crate::state::caller().await?;
    let decision = match decision.as_str() {
        "accept" => Decision::Accept,
        "reject" => Decision::Reject { reason: reason.unwrap_or_default() },
        other => {
            return crate::state::fail(AppError::InvalidInput(format!("unknown decision {other:?} (accept or reject)")))
        }
    };
    let required = caller.state.labels_per_photo;
    crate::state::answer(review(&caller.state.db, caller.actor.as_ref(), &ids, decision, required).await)
}

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
            None => return crate::state::fail(AppError::InvalidInput("choose a label, or skip the photo".into())),
        }
    };
    let decided = crate::state::answer(outcome)?;
    leptos_axum::redirect("/label");
    Ok(decided)
}
