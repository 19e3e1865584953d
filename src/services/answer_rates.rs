//! "Answers like this were right N % of the time": for the model version that answered, from
//! its latest evaluation in this portal, else from the project's own measurement of the
//! bundles it ships (`measured_answer_rates.json`, written by `scripts/measure_answer_rates.sh`).

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::evaluation::headlines::{HeadlineKind, HeadlineRate};
use crate::entities::{job, model_version};
use crate::jobs::results::EvaluateResult;
use crate::jobs::{JobKind, JobState};
use crate::ServiceError;

/// Evaluations looked through for a model's latest.
const RECENT_EVALUATIONS: u64 = 20;

/// What the rates were measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum RatesBasis {
    /// An evaluation job of this portal.
    Evaluation { dataset: String, split: String },
    /// The project's measurement of a bundle it ships.
    Shipped { measured_on: String },
}

/// One headline kind's record, and what it was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRate {
    pub rate: HeadlineRate,
    pub basis: RatesBasis,
}

#[derive(Deserialize)]
struct Measured {
    model_name: String,
    model_version: String,
    measured_on: String,
    headlines: Vec<HeadlineRate>,
}

fn shipped(name: &str, version: &str) -> Option<(Vec<HeadlineRate>, RatesBasis)> {
    // Part of the source, checked by the tests: a parse error is a build defect.
    let measured: Vec<Measured> = serde_json::from_str(include_str!("measured_answer_rates.json")).ok()?;
    measured.into_iter().find(|m| m.model_name == name && m.model_version == version).map(|m| {
        let basis = RatesBasis::Shipped { measured_on: m.measured_on };
        (m.headlines, basis)
    })
}

/// How often answers of `kind` from this model version were right, when that was measured:
/// by its latest evaluation here that gave such answers, else by the shipped measurement.
pub async fn for_answer(
    db: &DatabaseConnection,
    model_name: &str,
    model_version: &str,
    kind: HeadlineKind,
) -> Result<Option<AnswerRate>, ServiceError> {
    let pick = |rates: Vec<HeadlineRate>, basis: RatesBasis| {
        rates.into_iter().find(|r| r.kind == kind && r.answers > 0).map(|rate| AnswerRate { rate, basis })
    };
    let version = model_version::Entity::find()
        .filter(model_version::Column::Name.eq(model_name))
        .filter(model_version::Column::Version.eq(model_version))
        .one(db)
        .await?;
    if let Some(version) = version {
        let results: Vec<String> = job::Entity::find()
            .select_only()
            .column(job::Column::Result)
            .filter(job::Column::Kind.eq(JobKind::Evaluate))
            .filter(job::Column::State.eq(JobState::Succeeded))
            .order_by_desc(job::Column::Id)
            .limit(RECENT_EVALUATIONS)
            .into_tuple()
            .all(db)
            .await?;
        let latest = results
            .iter()
            .filter_map(|text| serde_json::from_str::<EvaluateResult>(text).ok())
            .find(|r| r.model_version_id == version.id && !r.headlines.is_empty());
        // An evaluation that never gave this kind of answer says nothing about it: the
        // shipped measurement (if any) still does.
        if let Some(rate) =
            latest.and_then(|r| pick(r.headlines, RatesBasis::Evaluation { dataset: r.dataset, split: r.split }))
        {
            return Ok(Some(rate));
        }
    }
    Ok(shipped(model_name, model_version).and_then(|(rates, basis)| pick(rates, basis)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_measurements_parse_and_cover_the_default_bundle() {
        let measured: Vec<super::Measured> =
            serde_json::from_str(include_str!("measured_answer_rates.json")).expect("measured_answer_rates.json");
        let default = measured.iter().find(|m| m.model_name == "efficientnet-lite0-imagenet").expect("the default");
        assert!(default.headlines.iter().all(|h| h.right <= h.answers) && !default.headlines.is_empty());
    }
}
