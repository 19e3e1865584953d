//! Feedback on identifications and its review. People say whether an answer was right; a
//! labeler or administrator accepts it (the photo gets that label) or rejects it with a reason,
//! and the person sees the outcome on their result.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;

use super::labels::{clean_label, decide, LabelSource, NO_INSECT};
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::{feedback, identification};
use crate::ServiceError;

pub const MAX_COMMENT: usize = 2000;

pub use crate::entities::feedback::{FeedbackKind as Kind, FeedbackState};

/// A feedback kind as a form sends it.
pub fn parse_kind(s: &str) -> Result<Kind, ServiceError> {
    use sea_orm::Iterable;
    Kind::iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| ServiceError::InvalidInput(format!("unknown feedback {s:?} (correct, wrong or not_insect)")))
}

/// A review-queue state as a filter names it.
pub fn parse_state(s: &str) -> Result<FeedbackState, ServiceError> {
    use sea_orm::Iterable;
    FeedbackState::iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| ServiceError::InvalidInput(format!("unknown state {s:?}")))
}

/// What a person sends about one identification.
#[derive(Debug, Clone)]
pub struct FeedbackForm {
    pub kind: Kind,
    /// The right class, for `Wrong`.
    pub label: String,
    pub comment: String,
}

/// Whether `label` is a class people may name: one of the catalogue's or the active model's.
pub type KnownLabel<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Records or edits the caller's feedback on an identification they may see. `known` turns a
/// typed class into its canonical spelling, or refuses it.
pub async fn submit(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    identification_id: i64,
    form: FeedbackForm,
    known: KnownLabel<'_>,
) -> Result<feedback::Model, ServiceError> {
    let actor = require(actor, Role::User)?;
    let row = identification::Entity::find_by_id(identification_id).one(db).await?;
    let Some(row) = row.filter(|r| r.user_id == Some(actor.id) || actor.role != Role::User) else {
        return Err(ServiceError::NotFound(format!("identification {identification_id}")));
    };
    let comment = form.comment.trim().to_string();
    if comment.chars().count() > MAX_COMMENT {
        return Err(ServiceError::InvalidInput(format!("the comment is longer than {MAX_COMMENT} characters")));
    }
    let label = match form.kind {
        Kind::Correct => Some(row.top_label.clone()),
        Kind::NotInsect => None,
        Kind::Wrong => {
            if form.label.trim().is_empty() {
                return Err(ServiceError::InvalidInput("say which species it is (or choose \"not an insect\")".into()));
            }
            let typed = clean_label(&form.label)?;
            // The canonical spelling is cleaned too: it may come from an uploaded model's labels.
            let canonical = known(&typed).map(|c| clean_label(&c)).transpose()?.ok_or_else(|| {
                ServiceError::InvalidInput(format!(
                    "{typed:?} is not a species in the catalogue or a class of the active model"
                ))
            })?;
            if canonical.eq_ignore_ascii_case(&row.top_label) {
                return Err(ServiceError::InvalidInput(
                    "that is what the model said: choose \"correct\" instead".into(),
                ));
            }
            Some(canonical)
        }
    };
    let now = Utc::now();
    let existing = feedback::Entity::find()
        .filter(feedback::Column::IdentificationId.eq(identification_id))
        .filter(feedback::Column::UserId.eq(actor.id))
        .one(db)
        .await?;
    let saved = match existing {
        Some(old) => {
            let mut edit = old.into_active_model();
            edit.kind = Set(form.kind);
            edit.label = Set(label);
            edit.comment = Set(comment);
            edit.updated_at = Set(now);
            // An edited feedback is reviewed afresh.
            edit.state = Set(FeedbackState::Pending);
            edit.reason = Set(None);
            edit.reviewed_by = Set(None);
            edit.reviewed_at = Set(None);
            edit.update(db).await?
        }
        None => {
            feedback::ActiveModel {
                created_at: Set(now),
                updated_at: Set(now),
                identification_id: Set(identification_id),
                user_id: Set(actor.id),
                image_sha256: Set(row.image_sha256.clone()),
                model_version: Set(format!("{} {}", row.model_name, row.model_version)),
                model_label: Set(row.top_label.clone()),
                kind: Set(form.kind),
                label: Set(label),
                comment: Set(comment),
                state: Set(FeedbackState::Pending),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    };
    Ok(saved)
}

/// The caller's own feedback on an identification, if any.
pub async fn mine(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    identification_id: i64,
) -> Result<Option<feedback::Model>, ServiceError> {
    let Some(actor) = actor else { return Ok(None) };
    Ok(feedback::Entity::find()
        .filter(feedback::Column::IdentificationId.eq(identification_id))
        .filter(feedback::Column::UserId.eq(actor.id))
        .one(db)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// None for all.
    pub state: Option<FeedbackState>,
    /// Matches the model's label or the one people gave.
    pub species: String,
    pub model_version: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuePage {
    pub items: Vec<feedback::Model>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default()
}

/// Feedback to review (labelers and administrators), oldest first so none waits forever.
pub async fn queue(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    filter: &QueueFilter,
    page: u64,
    per_page: u64,
) -> Result<QueuePage, ServiceError> {
    require(actor, Role::Labeler)?;
    let per_page = per_page.clamp(1, 200);
    let mut q = feedback::Entity::find().order_by_asc(feedback::Column::CreatedAt).order_by_asc(feedback::Column::Id);
    if let Some(state) = filter.state {
        q = q.filter(feedback::Column::State.eq(state));
    }
    let species = filter.species.trim();
    if !species.is_empty() {
        q = q.filter(feedback::Column::ModelLabel.contains(species).or(feedback::Column::Label.contains(species)));
    }
    if !filter.model_version.trim().is_empty() {
        q = q.filter(feedback::Column::ModelVersion.contains(filter.model_version.trim()));
    }
    if let Some(from) = filter.from {
        q = q.filter(feedback::Column::CreatedAt.gte(day_start(from)));
    }
    if let Some(to) = filter.to {
        q = q.filter(feedback::Column::CreatedAt.lt(day_start(to + chrono::Days::new(1))));
    }
    let paginator = q.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page).await?;
    Ok(QueuePage { items, total, page, per_page })
}

/// What a review decides.
#[derive(Debug, Clone)]
pub enum Decision {
    Accept,
    Reject { reason: String },
}

/// Accepts or rejects feedback items. Accepting gives the photo the label the feedback names
/// (the model's for "correct", none-insect for "not an insect"). All or nothing. `required` is
/// how many labelers must agree on a photo's label (labels_per_photo).
pub async fn review(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    ids: &[i64],
    decision: Decision,
    required: u32,
) -> Result<usize, ServiceError> {
    let actor = require(actor, Role::Labeler)?;
    if ids.is_empty() {
        return Err(ServiceError::InvalidInput("choose at least one feedback".into()));
    }
    if ids.len() > 500 {
        return Err(ServiceError::InvalidInput("at most 500 at once".into()));
    }
    if let Decision::Reject { reason } = &decision {
        if reason.trim().is_empty() {
            return Err(ServiceError::InvalidInput("say why the feedback is rejected".into()));
        }
    }
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    for id in ids {
        let row = feedback::Entity::find_by_id(*id)
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("feedback {id}")))?;
        // Accepting decides the photo's label outright. When several labelers must agree, a
        // labeler accepting their own feedback would be one person deciding alone: a second
        // person must review it. (Counting it as one vote instead would make "accept" sometimes
        // decide nothing, which the review page could not explain.)
        if required > 1 && row.user_id == actor.id {
            return Err(ServiceError::Forbidden("you cannot review your own feedback".into()));
        }
        let sha = row.image_sha256.clone();
        let label = match row.kind {
            Kind::NotInsect => NO_INSECT.to_string(),
            Kind::Correct | Kind::Wrong => row.label.clone().unwrap_or_else(|| row.model_label.clone()),
        };
        let mut edit = row.into_active_model();
        edit.reviewed_by = Set(Some(actor.id));
        edit.reviewed_at = Set(Some(now));
        match &decision {
            Decision::Accept => {
                edit.state = Set(FeedbackState::Accepted);
                edit.reason = Set(None);
                decide(&txn, &sha, &label, LabelSource::Feedback).await?;
            }
            Decision::Reject { reason } => {
                edit.state = Set(FeedbackState::Rejected);
                edit.reason = Set(Some(reason.trim().to_string()));
            }
        }
        edit.update(&txn).await?;
    }
    txn.commit().await?;
    // Again once committed: a count made in between read the labels as they were.
    super::pressure::cache::sightings_changed();
    Ok(ids.len())
}
