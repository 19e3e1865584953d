//! How good a model is before it answers: finished evaluations, two of them side by side, and
//! a candidate in shadow mode beside the active model.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRow {
    pub job: i64,
    pub model: String,
    pub dataset: String,
    pub split: String,
    pub top1: f64,
    /// The 95 % interval of top-1 on these photos.
    pub top1_interval: (f64, f64),
    pub top5: f64,
    pub ece: f64,
    pub images: u64,
}

#[server(endpoint = "evaluations")]
pub async fn get_evaluations() -> Result<Vec<EvaluationRow>, AppError> {
    let c = crate::state::caller().await?;
    let jobs = crate::state::answer(insectid::jobs::reports::evaluations(&c.state.db, c.actor.as_ref(), 50).await)?;
    Ok(jobs
        .into_iter()
        .map(|(job, r)| EvaluationRow {
            job,
            top1_interval: r.top1_interval(),
            model: r.model,
            dataset: r.dataset,
            split: r.split,
            top1: r.top1,
            top5: r.top5,
            ece: r.expected_calibration_error,
            images: r.images as u64,
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideView {
    pub job: i64,
    pub model: String,
    pub top1: f64,
    pub top5: f64,
    pub ece: f64,
    pub images_per_second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassPairView {
    pub name: String,
    pub support: u32,
    pub recall: (f64, f64),
    pub precision: (f64, f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonView {
    pub dataset: String,
    pub a: SideView,
    pub b: SideView,
    pub per_class: Vec<ClassPairView>,
    pub photos: usize,
    pub both_right: usize,
    pub only_a_right: usize,
    pub only_b_right: usize,
    pub both_wrong: usize,
    pub same_answer: usize,
    pub mcnemar_p: f64,
}

#[server(endpoint = "compare_evaluations")]
pub async fn compare_evaluations(a: i64, b: i64) -> Result<ComparisonView, AppError> {
    let c = crate::state::caller().await?;
    let x = crate::state::answer(
        insectid::jobs::reports::compare(&c.state.db, c.actor.as_ref(), &c.state.jobs.dir, a, b).await,
    )?;
    let side = |job: i64, s: insectid::services::comparison::Side| SideView {
        job,
        model: s.model,
        top1: s.top1,
        top5: s.top5,
        ece: s.expected_calibration_error,
        images_per_second: s.images_per_second,
    };
    Ok(ComparisonView {
        dataset: x.dataset,
        a: side(a, x.a),
        b: side(b, x.b),
        per_class: x
            .per_class
            .into_iter()
            .map(|p| ClassPairView { name: p.name, support: p.support, recall: p.recall, precision: p.precision })
            .collect(),
        photos: x.photos,
        both_right: x.both_right,
        only_a_right: x.only_a_right,
        only_b_right: x.only_b_right,
        both_wrong: x.both_wrong,
        same_answer: x.same_answer,
        mcnemar_p: x.mcnemar_p,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisagreementView {
    pub identification_id: i64,
    pub image_sha256: String,
    pub active: String,
    pub candidate: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowView {
    pub model_id: i64,
    pub model: String,
    pub compared: u64,
    pub agreed: u64,
    pub agreement_rate: f64,
    pub mean_millis: f64,
    pub disagreements: Vec<DisagreementView>,
}

/// The candidate in shadow on this instance and how it compares; None when none is.
#[server(endpoint = "shadow")]
pub async fn get_shadow() -> Result<Option<ShadowView>, AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::users::require(c.actor.as_ref(), insectid::auth::Role::Admin).map(|_| ()),
    )?;
    let Some(version) = c.state.shadow.version() else {
        return Ok(None);
    };
    let r =
        crate::state::answer(insectid::services::shadow::report(&c.state.db, c.actor.as_ref(), version.id, 20).await)?;
    let pct = |p: f64| format!("{:.1} %", p * 100.0);
    Ok(Some(ShadowView {
        model_id: version.id,
        model: format!("{} {}", version.name, version.version),
        compared: r.compared,
        agreed: r.agreed,
        agreement_rate: r.agreement_rate(),
        mean_millis: r.mean_millis,
        disagreements: r
            .disagreements
            .into_iter()
            .map(|d| DisagreementView {
                identification_id: d.identification_id,
                image_sha256: d.image_sha256,
                active: format!("{} ({})", d.active_label, pct(d.active_probability)),
                candidate: format!("{} ({})", d.label, pct(d.probability)),
                at: d.at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
    }))
}

#[server(endpoint = "shadow_on")]
pub async fn shadow_on(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::shadow::enable(&c.state.db, &c.state.shadow, &c.state.jobs.engine, c.actor.as_ref(), id)
            .await,
    )?;
    leptos_axum::redirect("/models");
    Ok(())
}

#[server(endpoint = "shadow_off")]
pub async fn shadow_off() -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(insectid::services::shadow::disable(&c.state.db, &c.state.shadow, c.actor.as_ref()).await)?;
    leptos_axum::redirect("/models");
    Ok(())
}
