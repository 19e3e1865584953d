//! Shadow mode: a candidate model answers live photos beside the active one, off the request's
//! path, so administrators see how often the two agree (and where they differ) before
//! activating it. Under load the candidate skips photos rather than slow anyone down.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use super::audit::{self, Actor};
use super::identify::{identify_photo, Identified};
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::{identification, model_version, shadow_prediction};
use crate::inference::{EngineConfig, InferenceEngine, InferenceError};
use crate::ServiceError;

/// The candidate running in shadow on this instance, if any.
#[derive(Clone, Default)]
pub struct ShadowSlot(Arc<RwLock<Option<Shadow>>>);

#[derive(Clone)]
struct Shadow {
    version: model_version::Model,
    engine: Arc<InferenceEngine>,
    /// Photos the candidate is working on; when all are taken, new photos are skipped before
    /// anything is decoded or spawned.
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Photos the candidate may work on at once (its engine's queue holds a few more).
pub const SHADOW_IN_FLIGHT: usize = 4;

impl Shadow {
    fn new(version: model_version::Model, engine: Arc<InferenceEngine>) -> Self {
        Shadow { version, engine, in_flight: Arc::new(tokio::sync::Semaphore::new(SHADOW_IN_FLIGHT)) }
    }
}

impl ShadowSlot {
    fn current(&self) -> Option<Shadow> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, shadow: Option<Shadow>) {
        match self.0.write() {
            Ok(mut g) => *g = shadow,
            Err(p) => *p.into_inner() = shadow,
        }
    }

    /// The model version in shadow.
    pub fn version(&self) -> Option<model_version::Model> {
        self.current().map(|s| s.version)
    }
}

/// A small engine of its own for the candidate: it never competes for the active model's queue.
fn shadow_config(base: &EngineConfig) -> EngineConfig {
    EngineConfig { max_batch: 4, queue_capacity: 8, ..base.clone() }
}

async fn load(row: &model_version::Model, config: &EngineConfig) -> Result<Arc<InferenceEngine>, ServiceError> {
    super::models::engine_for(row, shadow_config(config)).await
}

/// Puts an inactive version in shadow (replacing any other).
pub async fn enable(
    db: &DatabaseConnection,
    slot: &ShadowSlot,
    config: &EngineConfig,
    actor: Option<&Account>,
    id: i64,
) -> Result<model_version::Model, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let row = model_version::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model {id}")))?;
    if row.active {
        return Err(ServiceError::Conflict(format!(
            "{} {} is the active model; shadow a candidate instead",
            row.name, row.version
        )));
    }
    let engine = load(&row, config).await?;
    mark(db, Some(id)).await?;
    let row = model_version::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model {id}")))?;
    slot.set(Some(Shadow::new(row.clone(), engine)));
    audit::record(db, Actor::Account(admin), "model.shadow_on", &format!("{} {}", row.name, row.version), "", None)
        .await?;
    Ok(row)
}

pub async fn disable(db: &DatabaseConnection, slot: &ShadowSlot, actor: Option<&Account>) -> Result<(), ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let was = slot.version();
    slot.set(None);
    mark(db, None).await?;
    if let Some(row) = was {
        audit::record(
            db,
            Actor::Account(admin),
            "model.shadow_off",
            &format!("{} {}", row.name, row.version),
            "",
            None,
        )
        .await?;
    }
    Ok(())
}

async fn mark(db: &DatabaseConnection, id: Option<i64>) -> Result<(), ServiceError> {
    model_version::Entity::update_many().col_expr(model_version::Column::Shadow, Expr::value(false)).exec(db).await?;
    if let Some(id) = id {
        model_version::Entity::update_many()
            .col_expr(model_version::Column::Shadow, Expr::value(true))
            .filter(model_version::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// At start-up: the version marked as shadow runs again (a broken one is unmarked, logged).
pub async fn restore(db: &DatabaseConnection, slot: &ShadowSlot, config: &EngineConfig) -> Result<(), ServiceError> {
    let Some(row) = model_version::Entity::find().filter(model_version::Column::Shadow.eq(true)).one(db).await? else {
        return Ok(());
    };
    match load(&row, config).await {
        Ok(engine) => slot.set(Some(Shadow::new(row, engine))),
        Err(e) => {
            tracing::warn!(error = %e, "the shadow model could not be loaded; shadow mode is off");
            mark(db, None).await?;
        }
    }
    Ok(())
}

/// Runs the candidate on a photo the active model just identified and records both answers.
/// Spawned: the person's answer never waits for it. Returns false when the photo was skipped
/// because the candidate already has [`SHADOW_IN_FLIGHT`] photos in hand.
pub fn observe(db: &DatabaseConnection, slot: &ShadowSlot, identified: &Identified, bytes: Arc<[u8]>) -> bool {
    let (Some(shadow), Some(identification_id)) = (slot.current(), identified.id) else {
        return false;
    };
    let Ok(permit) = shadow.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("insectid_shadow_skipped_total").increment(1);
        tracing::debug!("shadow model busy; photo skipped");
        return false;
    };
    let db = db.clone();
    let active_top = identified.answer.top.first().map(|t| (t.label.clone(), t.probability)).unwrap_or_default();
    tokio::spawn(async move {
        let _permit = permit;
        let started = Instant::now();
        match identify_photo(&shadow.engine, bytes, 1).await {
            Ok(candidate) => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                if let Err(e) = record(&db, shadow.version.id, identification_id, &active_top, &candidate, ms).await {
                    tracing::warn!(error = %e, "shadow prediction not recorded");
                }
            }
            Err(ServiceError::Inference(InferenceError::Busy)) => tracing::debug!("shadow model busy; photo skipped"),
            Err(e) => tracing::warn!(error = %e, "shadow prediction failed"),
        }
    });
    true
}

/// Stores a comparison (one per candidate and identification; a repeat replaces it).
pub async fn record(
    db: &DatabaseConnection,
    model_version_id: i64,
    identification_id: i64,
    active_top: &(String, f32),
    candidate: &Identified,
    millis: f64,
) -> Result<(), ServiceError> {
    let (label, probability) =
        candidate.answer.top.first().map(|t| (t.label.clone(), t.probability)).unwrap_or_default();
    let row = shadow_prediction::ActiveModel {
        identification_id: Set(identification_id),
        model_version_id: Set(model_version_id),
        active_label: Set(active_top.0.clone()),
        active_probability: Set(f64::from(active_top.1)),
        agrees: Set(label.eq_ignore_ascii_case(&active_top.0)),
        label: Set(label),
        probability: Set(f64::from(probability)),
        millis: Set(millis),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let conflict =
        OnConflict::columns([shadow_prediction::Column::ModelVersionId, shadow_prediction::Column::IdentificationId])
            .update_columns([
                shadow_prediction::Column::ActiveLabel,
                shadow_prediction::Column::ActiveProbability,
                shadow_prediction::Column::Label,
                shadow_prediction::Column::Probability,
                shadow_prediction::Column::Agrees,
                shadow_prediction::Column::Millis,
                shadow_prediction::Column::CreatedAt,
            ])
            .to_owned();
    shadow_prediction::Entity::insert(row).on_conflict(conflict).exec_without_returning(db).await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub identification_id: i64,
    pub image_sha256: String,
    pub active_label: String,
    pub active_probability: f64,
    pub label: String,
    pub probability: f64,
    pub at: chrono::DateTime<Utc>,
}

/// How a candidate compares with the active model on the photos it saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowReport {
    pub model_version_id: i64,
    pub compared: u64,
    pub agreed: u64,
    pub mean_millis: f64,
    /// The newest first.
    pub disagreements: Vec<Disagreement>,
}

impl ShadowReport {
    pub fn agreement_rate(&self) -> f64 {
        if self.compared == 0 {
            0.0
        } else {
            self.agreed as f64 / self.compared as f64
        }
    }
}

pub async fn report(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    model_version_id: i64,
    limit: u64,
) -> Result<ShadowReport, ServiceError> {
    require(actor, Role::Admin)?;
    let of_model = shadow_prediction::Column::ModelVersionId.eq(model_version_id);
    let compared = shadow_prediction::Entity::find().filter(of_model.clone()).count(db).await?;
    let agreed = shadow_prediction::Entity::find()
        .filter(of_model.clone())
        .filter(shadow_prediction::Column::Agrees.eq(true))
        .count(db)
        .await?;
    let mean_millis: Option<f64> = shadow_prediction::Entity::find()
        .select_only()
        .column_as(shadow_prediction::Column::Millis.sum(), "total")
        .filter(of_model.clone())
        .into_tuple::<Option<f64>>()
        .one(db)
        .await?
        .flatten();
    let rows = shadow_prediction::Entity::find()
        .filter(of_model)
        .filter(shadow_prediction::Column::Agrees.eq(false))
        .order_by_desc(shadow_prediction::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.identification_id).collect();
    let photos: std::collections::HashMap<i64, String> = identification::Entity::find()
        .filter(identification::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|i| (i.id, i.image_sha256))
        .collect();
    let disagreements = rows
        .into_iter()
        .map(|r| Disagreement {
            image_sha256: photos.get(&r.identification_id).cloned().unwrap_or_default(),
            identification_id: r.identification_id,
            active_label: r.active_label,
            active_probability: r.active_probability,
            label: r.label,
            probability: r.probability,
            at: r.created_at,
        })
        .collect();
    Ok(ShadowReport {
        model_version_id,
        compared,
        agreed,
        mean_millis: mean_millis.unwrap_or(0.0) / compared.max(1) as f64,
        disagreements,
    })
}
