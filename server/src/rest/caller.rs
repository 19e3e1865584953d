//! Who calls a REST route: a personal API token (`Authorization: Bearer iid_...`), or the
//! browser's session. Only the REST routes read bearer tokens: pages and server functions
//! know sessions alone, so a token can never act through the browser's routes.
//!
//! A token acts within its scopes and under a per-token rate limit for the route's scope; a
//! session acts with its account's role, as the pages do. The services decide the rest.

use std::sync::Arc;

use app::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use insectid::auth::Account;
use insectid::error::ErrorKind;
use insectid::services::api_tokens::{self, Scope, ScopeRates};

use super::ApiError;
use crate::rate_limit::RouteLimit;

/// Per-token limits, one per scope (None: not limited). Put in the requests' extensions by the
/// router.
pub struct TokenLimits([Option<Arc<RouteLimit<i64>>>; 4]);

impl TokenLimits {
    pub fn new(rates: &ScopeRates) -> Arc<Self> {
        let limit = |scope: Scope, what| RouteLimit::per_minute(what, rates.of(scope));
        Arc::new(TokenLimits([
            limit(Scope::Identify, "identify requests"),
            limit(Scope::Read, "read requests"),
            limit(Scope::Write, "write requests"),
            limit(Scope::Admin, "admin requests"),
        ]))
    }

    fn of(&self, scope: Scope) -> Option<&RouteLimit<i64>> {
        let index = Scope::ALL.iter().position(|s| *s == scope).unwrap_or(0);
        self.0[index].as_deref()
    }
}

/// The caller of a REST route.
pub enum Caller {
    Anonymous,
    Session(Account),
    Token { token: api_tokens::TokenCaller, limits: Option<Arc<TokenLimits>> },
}

impl Caller {
    /// The account a route needing `scope` acts for (None: anonymous, for the service to
    /// judge). A token without the scope is refused, and a token over its rate limit waits.
    pub fn account_for(&self, scope: Scope) -> Result<Option<&Account>, ApiError> {
        match self {
            Caller::Anonymous => Ok(None),
            Caller::Session(account) => Ok(Some(account)),
            Caller::Token { token, limits } => {
                if !token.allows(scope) {
                    let why = if scope == Scope::Admin && token.scopes.contains(&Scope::Admin) {
                        "this token's owner is no longer an administrator".to_string()
                    } else {
                        format!("this token lacks the {} scope", scope.as_str())
                    };
                    return Err(ApiError::new(ErrorKind::Forbidden, why));
                }
                if let Some(limit) = limits.as_deref().and_then(|l| l.of(scope)) {
                    limit.check_key(&token.token_id).map_err(|wait| {
                        let seconds = wait.as_secs() + 1;
                        metrics::counter!("insectid_rate_limited_total", "route" => limit.what()).increment(1);
                        let message =
                            format!("too many {} with this token; try again in {seconds} seconds", limit.what());
                        ApiError::too_many(message, seconds)
                    })?;
                }
                Ok(Some(token.acting_as(scope)))
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Only the Bearer scheme (any case, RFC 7235) is a token; another scheme (a proxy's own
        // Basic authentication) is not ours to judge and leaves the session to speak.
        let bearer = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        if let Some(presented) = bearer {
            let token = api_tokens::authenticate(&state.db, presented).await?;
            let limits = parts.extensions.get::<Arc<TokenLimits>>().cloned();
            return Ok(Caller::Token { token, limits });
        }
        let session = axum_login::AuthSession::<insectid::auth::Backend>::from_request_parts(parts, state)
            .await
            .map_err(|(_, why)| ApiError::internal(why))?;
        Ok(session.user.map_or(Caller::Anonymous, Caller::Session))
    }
}
