//! Labelling: the queue of photos that still need a label (active learning: disputed answers
//! first, then the least confident), labelers' votes with skip and undo, and the rule that turns
//! votes into a photo's decided label.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;

use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::feedback::{FeedbackKind, FeedbackState};
use crate::entities::{feedback, identification, label_vote, photo_label};
use crate::ServiceError;

/// The label of a photo that shows no insect (a class of its own for training).
pub const NO_INSECT: &str = "no insect";

/// The longest label, in characters.
pub const MAX_LABEL: usize = 200;

/// Characters no label may hold. A dataset export writes one class per line of `classes.txt`:
/// a line break in a label would add a class there and shift every index after it.
pub fn unsafe_in_label(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A label as it is stored, wherever it comes from (feedback, votes, reviews, imports):
/// trimmed, each run of whitespace one space, so "rice  water weevil" is one class with
/// "rice water weevil". Line breaks and other control characters inside it are refused rather
/// than cleaned: they are never part of a class name, and dropping them would hide the fault.
pub fn clean_label(label: &str) -> Result<String, ServiceError> {
    let label = label.trim();
    if label.chars().any(unsafe_in_label) {
        return Err(ServiceError::InvalidInput("the label may not contain line breaks or control characters".into()));
    }
    let label = label.split_whitespace().collect::<Vec<_>>().join(" ");
    if label.is_empty() {
        return Err(ServiceError::InvalidInput("the label is empty".into()));
    }
    if label.chars().count() > MAX_LABEL {
        return Err(ServiceError::InvalidInput(format!("a label is at most {MAX_LABEL} characters")));
    }
    Ok(label)
}

/// Every class a person may name: the catalogue's species and the model's arthropods.
pub fn choices(model: &crate::inference::Manifest) -> Vec<String> {
    let mut all: Vec<String> = crate::catalogue::all().iter().map(|s| s.name_en.clone()).collect();
    for l in model.labels.iter().filter(|l| l.taxon.is_some()) {
        if !all.iter().any(|a| a.eq_ignore_ascii_case(&l.name)) {
            all.push(l.name.clone());
        }
    }
    all
}

pub use crate::entities::photo_label::LabelSource;

/// Sets a photo's decided label. An import never overrides what people decided.
pub async fn decide<C: ConnectionTrait>(
    db: &C,
    sha: &str,
    label: &str,
    source: LabelSource,
) -> Result<(), ServiceError> {
    // Every decided label passes here: cleaned again so that a caller that forgot cannot
    // store one a dataset export would choke on.
    let label = clean_label(label)?;
    let mut insert = OnConflict::column(photo_label::Column::ImageSha256);
    if source == LabelSource::Import {
        insert.do_nothing();
    } else {
        insert.update_columns([
            photo_label::Column::Label,
            photo_label::Column::Source,
            photo_label::Column::DecidedAt,
        ]);
    }
    let row = photo_label::ActiveModel {
        image_sha256: Set(sha.to_string()),
        label: Set(label),
        source: Set(source),
        decided_at: Set(Utc::now()),
        ..Default::default()
    };
    match photo_label::Entity::insert(row).on_conflict(insert).exec_without_returning(db).await {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e.into()),
    }
    mark_decided(db, sha, true).await
}

/// Whether a photo's label is decided (a new identification of it starts out marked so).
pub async fn is_decided<C: ConnectionTrait>(db: &C, sha: &str) -> Result<bool, ServiceError> {
    Ok(photo_label::Entity::find().filter(photo_label::Column::ImageSha256.eq(sha)).count(db).await? > 0)
}

/// Marks a photo's identifications as decided or not, which takes them out of (or back into)
/// the index the labelling queue reads.
async fn mark_decided<C: ConnectionTrait>(db: &C, sha: &str, decided: bool) -> Result<(), ServiceError> {
    identification::Entity::update_many()
        .col_expr(identification::Column::LabelDecided, Expr::value(decided))
        .filter(identification::Column::ImageSha256.eq(sha))
        .filter(identification::Column::LabelDecided.ne(decided))
        .exec(db)
        .await?;
    super::pressure::cache::sightings_changed();
    Ok(())
}

/// A photo waiting for a label, with what the model and people said about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    pub image_sha256: String,
    pub identification_id: i64,
    /// The model's classes for the photo, best first (label, probability).
    pub suggestions: Vec<(String, f32)>,
    /// Labels people proposed in feedback.
    pub proposed: Vec<String>,
    /// Votes already cast by other labelers (label → count).
    pub votes: BTreeMap<String, u32>,
    /// Photos still waiting, this one included.
    pub waiting: u64,
}

/// The next photo for this labeler: not decided, not yet voted on or skipped by them; photos
/// whose feedback disagrees with the model first, then the least confident answers.
pub async fn next(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Option<QueueItem>, ServiceError> {
    let actor = require(actor, Role::Labeler)?;
    // All in SQL, from the undecided identifications only: reading every identification per
    // request made the labelling page the load test's slowest (p50 0.7 s at 6,000).
    let decided = Query::select().column(photo_label::Column::ImageSha256).from(photo_label::Entity).to_owned();
    let mine = Query::select()
        .column(label_vote::Column::ImageSha256)
        .from(label_vote::Entity)
        .and_where(label_vote::Column::LabelerId.eq(actor.id))
        .to_owned();
    let disputed = Query::select()
        .column(feedback::Column::ImageSha256)
        .from(feedback::Entity)
        .and_where(feedback::Column::State.eq(FeedbackState::Pending))
        .and_where(feedback::Column::Kind.ne(FeedbackKind::Correct))
        .to_owned();
    // The flag narrows the search to undecided photos through an index; the subquery still
    // rules out a photo decided while a new identification of it was being recorded.
    let waiting = || {
        identification::Entity::find()
            .filter(identification::Column::LabelDecided.eq(false))
            .filter(identification::Column::ImageSha256.not_in_subquery(decided.clone()))
            .filter(identification::Column::ImageSha256.not_in_subquery(mine.clone()))
    };
    // Photos with feedback that disagrees first, then the least confident; a photo's place is
    // that of its least confident identification, which is the first row of it in this order.
    let least_confident = |q: sea_orm::Select<identification::Entity>| {
        q.select_only()
            .column(identification::Column::Id)
            .column(identification::Column::ImageSha256)
            .order_by_asc(identification::Column::TopProbability)
            .order_by_asc(identification::Column::Id)
            .into_tuple::<(i64, String)>()
    };
    let first =
        match least_confident(waiting().filter(identification::Column::ImageSha256.in_subquery(disputed.clone())))
            .one(db)
            .await?
        {
            Some(row) => Some(row),
            None => {
                least_confident(waiting().filter(identification::Column::ImageSha256.not_in_subquery(disputed)))
                    .one(db)
                    .await?
            }
        };
    let Some((id, sha)) = first else { return Ok(None) };
    let total = waiting().select_only().column(identification::Column::ImageSha256).distinct().count(db).await?;
    let row = identification::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("identification {id}")))?;
    let suggestions = serde_json::from_str::<super::identify::Identified>(&row.answer)
        .map(|i| i.answer.top.into_iter().map(|t| (t.label, t.probability)).collect())
        .unwrap_or_else(|_| vec![(row.top_label.clone(), row.top_probability as f32)]);
    let proposed =
        feedback::Entity::find()
            .filter(feedback::Column::ImageSha256.eq(sha.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|f| {
                if f.kind == FeedbackKind::NotInsect {
                    NO_INSECT.to_string()
                } else {
                    f.label.unwrap_or(f.model_label)
                }
            })
            .collect::<Vec<_>>();
    let mut votes = BTreeMap::new();
    for v in label_vote::Entity::find().filter(label_vote::Column::ImageSha256.eq(sha.clone())).all(db).await? {
        if let Some(l) = v.label {
            *votes.entry(l).or_insert(0) += 1;
        }
    }
    Ok(Some(QueueItem { image_sha256: sha, identification_id: id, suggestions, proposed, votes, waiting: total }))
}

/// Records the labeler's label for a photo (None skips it). When `required` labelers agree on
/// one label, it becomes the photo's decided label. Returns the decided label, if any.
pub async fn vote(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    sha: &str,
    label: Option<&str>,
    required: u32,
) -> Result<Option<String>, ServiceError> {
    let actor = require(actor, Role::Labeler)?;
    let known_photo =
        identification::Entity::find().filter(identification::Column::ImageSha256.eq(sha)).one(db).await?.is_some();
    if !known_photo {
        return Err(ServiceError::NotFound(format!("photo {sha}")));
    }
    // An empty label is a skip, as None is.
    let label = label.map(str::trim).filter(|l| !l.is_empty()).map(clean_label).transpose()?;
    // One vote per labeler and photo, replaced by a later one: an upsert, so the same person
    // voting from two tabs at once replaces rather than collides (seen under load as a 500).
    let vote = label_vote::ActiveModel {
        created_at: Set(Utc::now()),
        image_sha256: Set(sha.to_string()),
        labeler_id: Set(actor.id),
        label: Set(label.clone()),
        ..Default::default()
    };
    let replace = OnConflict::columns([label_vote::Column::ImageSha256, label_vote::Column::LabelerId])
        .update_columns([label_vote::Column::Label, label_vote::Column::CreatedAt])
        .to_owned();
    label_vote::Entity::insert(vote).on_conflict(replace).exec_without_returning(db).await?;
    // Looked at again after the vote is in: a delete of the photo's last identification that
    // ran meanwhile either saw the vote and kept the photo, or removed it before the vote
    // counted, and then the vote goes too (integrity::remove_if_unused reads in that order).
    let still_known =
        identification::Entity::find().filter(identification::Column::ImageSha256.eq(sha)).one(db).await?.is_some();
    if !still_known {
        label_vote::Entity::delete_many()
            .filter(label_vote::Column::ImageSha256.eq(sha))
            .filter(label_vote::Column::LabelerId.eq(actor.id))
            .exec(db)
            .await?;
        return Err(ServiceError::NotFound(format!("photo {sha}")));
    }
    settle(db, sha, required).await
}

/// Applies the consensus rule to a photo's votes.
async fn settle(db: &DatabaseConnection, sha: &str, required: u32) -> Result<Option<String>, ServiceError> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for v in label_vote::Entity::find().filter(label_vote::Column::ImageSha256.eq(sha)).all(db).await? {
        if let Some(l) = v.label {
            *counts.entry(l).or_insert(0) += 1;
        }
    }
    let agreed = counts.into_iter().filter(|(_, n)| *n >= required.max(1)).max_by_key(|(_, n)| *n).map(|(l, _)| l);
    let current = photo_label::Entity::find().filter(photo_label::Column::ImageSha256.eq(sha)).one(db).await?;
    match (&agreed, current) {
        (Some(label), _) => decide(db, sha, label, LabelSource::Labelers).await?,
        // An undone vote takes back a decision that rested on it.
        (None, Some(row)) if row.source == LabelSource::Labelers => {
            photo_label::Entity::delete_by_id(row.id).exec(db).await?;
            mark_decided(db, sha, false).await?;
        }
        _ => {}
    }
    Ok(agreed)
}

/// Takes back the labeler's most recent vote or skip; returns the photo it was about.
pub async fn undo(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    required: u32,
) -> Result<Option<String>, ServiceError> {
    let actor = require(actor, Role::Labeler)?;
    let last = label_vote::Entity::find()
        .filter(label_vote::Column::LabelerId.eq(actor.id))
        .order_by_desc(label_vote::Column::CreatedAt)
        .order_by_desc(label_vote::Column::Id)
        .one(db)
        .await?;
    let Some(last) = last else { return Ok(None) };
    let sha = last.image_sha256.clone();
    label_vote::Entity::delete_by_id(last.id).exec(db).await?;
    settle(db, &sha, required).await?;
    Ok(Some(sha))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelerCount {
    pub labeler_id: i64,
    pub labeled: u64,
    pub skipped: u64,
}

/// How many photos each labeler labelled and skipped.
pub async fn counts(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Vec<LabelerCount>, ServiceError> {
    require(actor, Role::Labeler)?;
    // Counted by the database: the labelling page asks on every photo, and reading every vote
    // made it slower with each vote cast.
    let rows: Vec<(i64, i64, i64)> = label_vote::Entity::find()
        .select_only()
        .column(label_vote::Column::LabelerId)
        .column_as(Expr::cust("COUNT(label)"), "labeled")
        .column_as(Expr::cust("COUNT(*) - COUNT(label)"), "skipped")
        .group_by(label_vote::Column::LabelerId)
        .order_by_asc(label_vote::Column::LabelerId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(labeler_id, labeled, skipped)| LabelerCount {
            labeler_id,
            labeled: labeled as u64,
            skipped: skipped as u64,
        })
        .collect())
}

/// Photos with a decided label (what a new dataset version would hold).
pub async fn labelled_count(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    use sea_orm::PaginatorTrait;
    Ok(photo_label::Entity::find().count(db).await?)
}
