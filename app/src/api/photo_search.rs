//! Search by text over one's identified photos (the Search page).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ResultView;
use crate::error::AppError;

/// Photos shown for one search.
pub const SEARCH_RESULTS: usize = 24;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoSearch {
    pub query: String,
    /// The model whose embeddings were searched ("name version").
    pub model: String,
    /// "pgvector" or "scan".
    pub method: String,
    pub hits: Vec<PhotoHit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoHit {
    /// Cosine similarity of photo and text.
    pub similarity: f32,
    pub result: ResultView,
}

#[server(endpoint = "search_photos")]
pub async fn search_photos(query: String) -> Result<PhotoSearch, AppError> {
    use crate::state::{answer, caller, Caller};
    use insectid::services::photo_search::{search, SearchMethod};
    let Caller { state, actor, .. } = caller().await?;
    let found = answer(search(&state.db, &state.engine, actor.as_ref(), &query, SEARCH_RESULTS).await)?;
    Ok(PhotoSearch {
        query: found.query,
        model: format!("{} {}", found.model_name, found.model_version),
        method: match found.method {
            SearchMethod::Pgvector => "pgvector",
            SearchMethod::Scan => "scan",
        }
        .to_string(),
        hits: found
            .hits
            .into_iter()
            .map(|h| PhotoHit { similarity: h.similarity, result: super::history::result_view(h.identification) })
            .collect(),
    })
}
