//! The catalogue illustrated with the portal's own photos: photos their owners shared whose
//! species is confirmed, by a decided label (accepted feedback, agreeing labelers) or by a
//! confident answer nobody decided otherwise. Best first: people's labels, then the
//! model's surest answers.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::observation::{shared_view, SharedObservation};
use crate::catalogue::{self, Species};
use crate::entities::identification::{self, VerdictKind};
use crate::entities::photo_label;
use crate::ServiceError;

/// How many candidate rows one species' gallery reads at most.
const CANDIDATES: u64 = 200;
/// How many shared photos the catalogue list looks through for thumbnails.
const LIST_CANDIDATES: u64 = 2000;

/// What confirms a photo's species.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Confirmation {
    /// People decided it (a reviewer accepted feedback, or labelers agreed).
    Label,
    /// The model answered it with confidence.
    Answer { probability: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesPhoto {
    pub image_sha256: String,
    pub confirmed_by: Confirmation,
    /// The day and the rounded place, as shared.
    pub observation: SharedObservation,
}

fn lower<C: ColumnTrait>(column: C) -> Expr {
    Expr::expr(Func::lower(Expr::col(column)))
}

/// Labels decided for these photos, by digest.
async fn labels_of(db: &DatabaseConnection, shas: Vec<String>) -> Result<HashMap<String, String>, ServiceError> {
    if shas.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = photo_label::Entity::find()
        .select_only()
        .column(photo_label::Column::ImageSha256)
        .column(photo_label::Column::Label)
        .filter(photo_label::Column::ImageSha256.is_in(shas))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Up to `limit` shared, confirmed photos of one species, best first; one per photo.
pub async fn of_species(
    db: &DatabaseConnection,
    species: &Species,
    limit: usize,
) -> Result<Vec<SpeciesPhoto>, ServiceError> {
    use identification::Column;
    let name = species.name_en.to_lowercase();
    // Shared photos people labelled as this species (the limit applies after both filters).
    let labelled = Query::select()
        .column(photo_label::Column::ImageSha256)
        .from(photo_label::Entity)
        .and_where(lower(photo_label::Column::Label).eq(name.clone()))
        .to_owned();
    let by_label = identification::Entity::find()
        .filter(Column::Shared.eq(true))
        .filter(Column::ImageSha256.in_subquery(labelled))
        .order_by_desc(Column::TopProbability)
        .limit(CANDIDATES)
        .all(db)
        .await?;
    let confident = identification::Entity::find()
        .filter(Column::Shared.eq(true))
        .filter(Column::Verdict.eq(VerdictKind::Confident))
        .filter(lower(Column::TopLabel).eq(name.clone()))
        .order_by_desc(Column::TopProbability)
        .limit(CANDIDATES)
        .all(db)
        .await?;
    // The model's answer does not stand against what people decided.
    let decided = labels_of(db, confident.iter().map(|r| r.image_sha256.clone()).collect()).await?;
    let mut seen = HashSet::new();
    let mut photos = Vec::new();
    let candidates = by_label.into_iter().map(|r| (r, Confirmation::Label)).chain(
        confident.into_iter().filter(|r| decided.get(&r.image_sha256).is_none_or(|l| l.to_lowercase() == name)).map(
            |r| {
                let probability = r.top_probability;
                (r, Confirmation::Answer { probability })
            },
        ),
    );
    for (row, confirmed_by) in candidates {
        if photos.len() == limit {
            break;
        }
        let Some(observation) = shared_view(&row) else { continue };
        if seen.insert(row.image_sha256.clone()) {
            photos.push(SpeciesPhoto { image_sha256: row.image_sha256, confirmed_by, observation });
        }
    }
    Ok(photos)
}

/// One photo per catalogue species that has any (by species key), for the list: a labelled
/// photo where there is one, else the surest confident answer.
pub async fn thumbnails(db: &DatabaseConnection) -> Result<HashMap<String, String>, ServiceError> {
    use identification::Column;
    let rows: Vec<(String, String, VerdictKind)> = identification::Entity::find()
        .select_only()
        .column(Column::ImageSha256)
        .column(Column::TopLabel)
        .column(Column::Verdict)
        .filter(Column::Shared.eq(true))
        .order_by_desc(Column::TopProbability)
        .limit(LIST_CANDIDATES)
        .into_tuple()
        .all(db)
        .await?;
    let decided = labels_of(db, rows.iter().map(|r| r.0.clone()).collect()).await?;
    let mut thumbnails = HashMap::new();
    // Labelled photos first, so they win over answers.
    let labelled = rows.iter().filter_map(|(sha, _, _)| decided.get(sha).map(|label| (sha, label)));
    let answered = rows
        .iter()
        .filter(|(sha, _, verdict)| *verdict == VerdictKind::Confident && !decided.contains_key(sha))
        .map(|(sha, label, _)| (sha, label));
    for (sha, label) in labelled.chain(answered) {
        if let Some(species) = catalogue::for_label(label) {
            thumbnails.entry(species.key.clone()).or_insert_with(|| sha.clone());
        }
    }
    Ok(thumbnails)
}
