//! Feedback on results (sent by anyone signed in) and its review (labelers), and the
//! classes a person may name.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One's own feedback on a result, as the result page shows it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackView {
    pub id: i64,
    pub identification_id: i64,
    pub image_sha256: String,
    pub user_id: i64,
    pub kind: FeedbackKind,
    pub label: Option<String>,
    pub model_label: String,
    pub model_version: String,
    pub comment: String,
    pub state: FeedbackState,
    pub reason: Option<String>,
    pub created_at: String,
}

/// What the person said (the form's radio values are these names).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    Correct,
    Wrong,
    NotInsect,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Correct => "correct",
            FeedbackKind::Wrong => "wrong",
            FeedbackKind::NotInsect => "not_insect",
        }
    }
}

/// Where a feedback is in review (the queue's filter values are these names).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackState {
    Pending,
    Accepted,
    Rejected,
}

impl FeedbackState {
    pub const ALL: [FeedbackState; 3] = [FeedbackState::Pending, FeedbackState::Accepted, FeedbackState::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackState::Pending => "pending",
            FeedbackState::Accepted => "accepted",
            FeedbackState::Rejected => "rejected",
        }
    }
}

#[cfg(feature = "ssr")]
impl From<insectid::entities::feedback::FeedbackKind> for FeedbackKind {
    fn from(k: insectid::entities::feedback::FeedbackKind) -> Self {
        use insectid::entities::feedback::FeedbackKind as Stored;
        match k {
            Stored::Correct => FeedbackKind::Correct,
            Stored::Wrong => FeedbackKind::Wrong,
            Stored::NotInsect => FeedbackKind::NotInsect,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<insectid::entities::feedback::FeedbackState> for FeedbackState {
    fn from(s: insectid::entities::feedback::FeedbackState) -> Self {
        use insectid::entities::feedback::FeedbackState as Stored;
        match s {
            Stored::Pending => FeedbackState::Pending,
            Stored::Accepted => FeedbackState::Accepted,
            Stored::Rejected => FeedbackState::Rejected,
        }
    }
}

#[cfg(feature = "ssr")]
pub fn feedback_view(f: insectid::entities::feedback::Model) -> FeedbackView {
    FeedbackView {
        id: f.id,
        identification_id: f.identification_id,
        image_sha256: f.image_sha256,
        user_id: f.user_id,
        kind: f.kind.into(),
        label: f.label,
        model_label: f.model_label,
        model_version: f.model_version,
        comment: f.comment,
        state: f.state.into(),
        reason: f.reason,
        created_at: f.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

#[server(endpoint = "label_choices")]
pub async fn get_label_choices() -> Result<Vec<String>, AppError> {
    let state = crate::state::app_state()?;
    Ok(insectid::services::labels::choices(&state.engine.active().manifest))
}

/// Sends or edits the caller's feedback on an identification, then shows the result again.
#[server(endpoint = "send_feedback")]
pub async fn send_feedback(
    identification: i64,
    kind: String,
    label: Option<String>,
    comment: Option<String>,
) -> Result<FeedbackView, AppError> {
    let caller = crate::state::caller().await?;
    let (label, comment) = (label.unwrap_or_default(), comment.unwrap_or_default());
    let saved = crate::state::answer(
        submit_for(&caller.state, caller.actor.as_ref(), identification, &kind, label, comment).await,
    )?;
    leptos_axum::redirect(&format!("/results/{identification}?feedback=sent#feedback"));
    Ok(saved)
}

/// Records the caller's feedback (pages and the REST API alike): `kind` is a form's value, and
/// a named class must be one the catalogue or the active model knows.
#[cfg(feature = "ssr")]
pub async fn submit_for(
    state: &crate::state::AppState,
    actor: Option<&insectid::auth::Account>,
    identification: i64,
    kind: &str,
    label: String,
    comment: String,
) -> Result<FeedbackView, insectid::ServiceError> {
    use insectid::services::feedback::{parse_kind, submit, FeedbackForm};
    let form = FeedbackForm { kind: parse_kind(kind)?, label, comment };
    let choices = insectid::services::labels::choices(&state.engine.active().manifest);
    let known = |typed: &str| choices.iter().find(|c| c.eq_ignore_ascii_case(typed)).cloned();
    Ok(feedback_view(submit(&state.db, actor, identification, form, &known).await?))
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
    use insectid::services::feedback::{parse_state, queue, QueueFilter};
    let caller = crate::state::caller().await?;
    let state = if state.trim().is_empty() { None } else { Some(crate::state::answer(parse_state(state.trim()))?) };
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
        (Err(e), _) | (_, Err(e)) => return Err(e),
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
        other => return Err(AppError::InvalidInput(format!("unknown decision {other:?} (accept or reject)"))),
    };
    let required = caller.state.labels_per_photo;
    crate::state::answer(review(&caller.state.db, caller.actor.as_ref(), &ids, decision, required).await)
}
