//! Search by text over identified photos ("small green leafhopper on rice"): the active
//! image–text model embeds the query, and the photos it identified are ranked by how close
//! their stored image embeddings are. On PostgreSQL with pgvector the database ranks them
//! (`embedding_vector`, see migration 16); otherwise the server scans the newest
//! [`SCAN_LIMIT`] embeddings itself. People search their own photos; administrators all.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, Value,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::history::{view, IdentificationView};
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::{identification, photo_embedding};
use crate::inference::{ActiveModel, InferenceEngine, InferenceError};
use crate::ServiceError;

/// Longest query, in characters (the text encoder reads a few dozen tokens anyway).
pub const MAX_QUERY_CHARS: usize = 200;
/// Most photos one search returns.
pub const MAX_RESULTS: usize = 50;
/// Newest embeddings a scan without pgvector compares (about 0.4 GB of reads at 512 wide).
pub const SCAN_LIMIT: u64 = 200_000;
/// Rows fetched at a time by the scan, so its memory stays a few megabytes.
const SCAN_PAGE: u64 = 2_000;
/// Searches at once (embedding and ranking); more wait for none and get "busy".
static SEARCH_SLOTS: Semaphore = Semaphore::const_new(2);

/// How the photos were ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMethod {
    /// In PostgreSQL, by pgvector's inner-product operator.
    Pgvector,
    /// By the server, over the newest stored embeddings.
    Scan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// Cosine similarity of the photo and the query, −1…1.
    pub similarity: f32,
    pub identification: IdentificationView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub query: String,
    /// The model whose embeddings were searched (photos identified by others are not).
    pub model_name: String,
    pub model_version: String,
    pub method: SearchMethod,
    /// Best first.
    pub hits: Vec<SearchHit>,
}

/// Keeps a photo's embedding (of the space `space`) beside its identification row.
pub async fn record(
    db: &DatabaseConnection,
    row: &identification::Model,
    embedding: &[f32],
    space: &str,
) -> Result<(), ServiceError> {
    if !embedding.iter().all(|v| v.is_finite()) {
        return Err(ServiceError::InvalidInput("the photo's embedding is not finite".into()));
    }
    let saved = photo_embedding::ActiveModel {
        identification_id: Set(row.id),
        user_id: Set(row.user_id),
        model_name: Set(row.model_name.clone()),
        model_version: Set(row.model_version.clone()),
        space: Set(space.to_string()),
        dim: Set(embedding.len() as i32),
        vector: Set(embedding.iter().flat_map(|v| v.to_le_bytes()).collect()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if has_pgvector(db).await? {
        let sql = "UPDATE photo_embedding SET embedding_vector = CAST($1 AS vector) WHERE id = $2";
        let values = [Value::from(vector_literal(embedding)), Value::from(saved.id)];
        db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    }
    Ok(())
}

/// The actor's photos (all, for an administrator) most like `query`, best first.
pub async fn search(
    db: &DatabaseConnection,
    engine: &InferenceEngine,
    actor: Option<&Account>,
    query: &str,
    limit: usize,
) -> Result<SearchResults, ServiceError> {
    let actor = require(actor, Role::User)?;
    let query = query.trim();
    if query.is_empty() {
        return Err(ServiceError::InvalidInput("describe what to find, e.g. \"green leafhopper on rice\"".into()));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ServiceError::InvalidInput(format!("a search is at most {MAX_QUERY_CHARS} characters")));
    }
    let permit = SEARCH_SLOTS
        .try_acquire()
        .map_err(|_| ServiceError::Busy("text search is busy; try again in a moment".into()))?;
    let model = engine.active();
    let (embedded, _permit) = embed_query(model.clone(), query.to_string(), permit).await?;
    let owner = (actor.role != Role::Admin).then_some(actor.id);
    let limit = limit.clamp(1, MAX_RESULTS);
    let space = Space { space: model.embedding_space.clone().unwrap_or_default(), owner };
    let (method, ranked) = if has_pgvector(db).await? {
        (SearchMethod::Pgvector, rank_in_database(db, &space, &embedded, limit).await?)
    } else {
        (SearchMethod::Scan, rank_by_scan(db, &space, &embedded, limit).await?)
    };
    let ids: Vec<i64> = ranked.iter().map(|(_, id)| *id).collect();
    let mut rows = identification::Entity::find().filter(identification::Column::Id.is_in(ids));
    if let Some(owner) = owner {
        rows = rows.filter(identification::Column::UserId.eq(owner));
    }
    let rows = rows.all(db).await?;
    let mut hits = Vec::with_capacity(ranked.len());
    for (similarity, id) in ranked {
        if let Some(row) = rows.iter().find(|r| r.id == id) {
            hits.push(SearchHit { similarity, identification: view(row.clone(), Some(actor))? });
        }
    }
    Ok(SearchResults {
        query: query.to_string(),
        model_name: model.status.name.clone(),
        model_version: model.status.version.clone(),
        method,
        hits,
    })
}

/// Which stored embeddings a search compares: one space's, of one owner or all.
struct Space {
    space: String,
    owner: Option<i64>,
}

type Slot = tokio::sync::SemaphorePermit<'static>;

/// The query's unit embedding, computed off the runtime. The search's slot goes with the work
/// and comes back with it: a client that leaves meanwhile does not free it early.
async fn embed_query(model: Arc<ActiveModel>, query: String, slot: Slot) -> Result<(Vec<f32>, Slot), ServiceError> {
    let (embedded, slot) = tokio::task::spawn_blocking(move || {
        crate::inference::torch_threads::compute_on(1);
        (model.embed_texts(&[query.as_str()]), slot)
    })
    .await
    .map_err(|e| InferenceError::Device(format!("the text encoder failed: {e}")))?;
    let rows = embedded.ok_or_else(|| {
        ServiceError::Conflict("the active model does not read text; search by text needs an image–text model".into())
    })??;
    let row =
        rows.into_iter().next().ok_or_else(|| InferenceError::Device("the text encoder gave no embedding".into()))?;
    // A query of words the model never learnt embeds to nothing: every photo would tie at 0.
    if !row.iter().any(|v| v.abs() > 1e-6) || !row.iter().all(|v| v.is_finite()) {
        let message = "the active model knows none of these words; describe it otherwise";
        return Err(ServiceError::InvalidInput(message.into()));
    }
    Ok((row, slot))
}

/// pgvector's column exists in this database (PostgreSQL with the extension at migration).
async fn has_pgvector(db: &DatabaseConnection) -> Result<bool, ServiceError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    // The table the queries name, as the search path resolves it (a cheap catalog lookup).
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('photo_embedding') \
               AND attname = 'embedding_vector' AND NOT attisdropped) AS present";
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    Ok(row.map(|r| r.try_get::<bool>("", "present")).transpose()?.unwrap_or(false))
}

/// pgvector's text form of a vector: `[0.1,-0.2,…]`.
fn vector_literal(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(","))
}

async fn rank_in_database(
    db: &DatabaseConnection,
    space: &Space,
    query: &[f32],
    limit: usize,
) -> Result<Vec<(f32, i64)>, ServiceError> {
    // `<#>` is the negative inner product; the vectors are unit length, so it ranks by cosine.
    // The query vector is parsed once (a generic plan would cast the text for every row).
    let mut sql = "WITH q AS MATERIALIZED (SELECT CAST($1 AS vector) AS v) \
                   SELECT e.identification_id, (e.embedding_vector <#> q.v) * -1 AS similarity \
                   FROM photo_embedding e, q WHERE e.space = $2 AND e.dim = $3 AND e.embedding_vector IS NOT NULL"
        .to_string();
    let mut values =
        vec![Value::from(vector_literal(query)), Value::from(space.space.clone()), Value::from(query.len() as i32)];
    if let Some(owner) = space.owner {
        sql.push_str(" AND e.user_id = $4");
        values.push(Value::from(owner));
    }
    sql.push_str(&format!(" ORDER BY e.embedding_vector <#> q.v LIMIT {limit}"));
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<f64>("", "similarity")? as f32, r.try_get::<i64>("", "identification_id")?)))
        .collect()
}

/// Compares the query with the newest [`SCAN_LIMIT`] embeddings of the space, a page at a time.
async fn rank_by_scan(
    db: &DatabaseConnection,
    space: &Space,
    query: &[f32],
    limit: usize,
) -> Result<Vec<(f32, i64)>, ServiceError> {
    use photo_embedding::Column;
    let mut best = TopHits::new(limit);
    let (mut before, mut scanned) = (i64::MAX, 0u64);
    while scanned < SCAN_LIMIT {
        let mut page = photo_embedding::Entity::find()
            .select_only()
            .columns([Column::Id, Column::IdentificationId, Column::Vector])
            .filter(Column::Space.eq(space.space.as_str()))
            .filter(Column::Dim.eq(query.len() as i32))
            .filter(Column::Id.lt(before));
        if let Some(owner) = space.owner {
            page = page.filter(Column::UserId.eq(owner));
        }
        let rows: Vec<(i64, i64, Vec<u8>)> =
            page.order_by_desc(Column::Id).limit(SCAN_PAGE.min(SCAN_LIMIT - scanned)).into_tuple().all(db).await?;
        let Some(last) = rows.last() else { break };
        before = last.0;
        scanned += rows.len() as u64;
        for (_, identification_id, bytes) in &rows {
            best.offer(dot(query, bytes), *identification_id);
        }
    }
    Ok(best.into_sorted())
}

/// The inner product of a vector and little-endian f32 bytes of the same width.
fn dot(query: &[f32], bytes: &[u8]) -> f32 {
    bytes.chunks_exact(4).zip(query).map(|(b, q)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * q).sum()
}

/// The `k` best (similarity, id) pairs offered so far.
struct TopHits {
    k: usize,
    hits: Vec<(f32, i64)>,
}

impl TopHits {
    fn new(k: usize) -> Self {
        TopHits { k, hits: Vec::with_capacity(k + 1) }
    }

    fn offer(&mut self, similarity: f32, id: i64) {
        if !similarity.is_finite() {
            return;
        }
        if self.hits.len() == self.k && self.hits.last().is_some_and(|(worst, _)| similarity <= *worst) {
            return;
        }
        let at = self.hits.partition_point(|(s, _)| *s >= similarity);
        self.hits.insert(at, (similarity, id));
        self.hits.truncate(self.k);
    }

    fn into_sorted(self) -> Vec<(f32, i64)> {
        self.hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_hits_keep_the_best_in_order() {
        let mut top = TopHits::new(3);
        for (s, id) in [(0.1, 1), (0.9, 2), (f32::NAN, 7), (0.5, 3), (0.7, 4), (0.2, 5), (0.95, 6)] {
            top.offer(s, id);
        }
        assert_eq!(top.into_sorted(), vec![(0.95, 6), (0.9, 2), (0.7, 4)]);
    }

    #[test]
    fn dot_reads_little_endian_floats() {
        let bytes: Vec<u8> = [0.5f32, -2.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(dot(&[2.0, 1.0, 0.25], &bytes), 1.0 - 2.0 + 1.0);
        assert_eq!(vector_literal(&[0.5, -2.0]), "[0.5,-2]");
    }
}
