//! The API's one paging convention: `page` from 1, `per_page` 1 to 200 (50 by default); every
//! paged answer says `page`, `per_page` and `total`.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use insectid::error::ErrorKind;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiError;

pub const MAX_PER_PAGE: usize = 200;
/// Beyond any real list; keeps `page × per_page` far from overflowing.
const MAX_PAGE: usize = 1_000_000;
const DEFAULT_PER_PAGE: usize = 50;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// The page, from 1.
    page: Option<usize>,
    /// Entries per page, 1 to 200 (default 50).
    per_page: Option<usize>,
}

/// A page asked for, checked: `page` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: usize,
    pub per_page: usize,
}

impl PageRequest {
    /// Entries before this page.
    pub fn skip(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

impl Paging {
    pub fn checked(self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) || !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::new(
                ErrorKind::InvalidInput,
                format!("page is 1 to {MAX_PAGE} and per_page is 1 to {MAX_PER_PAGE}"),
            ));
        }
        Ok(PageRequest { page, per_page })
    }
}

/// A query string read into `T`, or a 400 in the API's error shape.
pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::new(ErrorKind::InvalidInput, e.body_text()))
}
