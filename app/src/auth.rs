//! The signed-in user as the navigation and pages see it, kept fresh by the account actions.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{Me, SignOut};
use crate::error::AppError;

#[derive(Clone, Copy)]
pub struct Auth {
    pub sign_out: ServerAction<SignOut>,
    /// Bumped by any page whose action changed the account.
    changed: RwSignal<u32>,
    pub me: Resource<Result<Option<Me>, AppError>>,
}

pub fn provide_auth() -> Auth {
    let sign_out = ServerAction::<SignOut>::new();
    let changed = RwSignal::new(0u32);
    let me = Resource::new(move || (sign_out.version().get(), changed.get()), |_| async { crate::api::get_me().await });
    let auth = Auth { sign_out, changed, me };
    provide_context(auth);
    auth
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// An account action of a page. Created inside the route, so that after a no-JS post the
/// page sees the error the server carried back in the URL; each completion refreshes `me`.
pub fn account_action<S>() -> ServerAction<S>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    let action = ServerAction::<S>::new();
    let auth = use_auth();
    Effect::new(move |_| {
        if action.version().get() > 0 {
            auth.changed.update(|c| *c += 1);
        }
    });
    action
}

/// An action's error, for showing next to its form (works after a no-JS post as well).
pub fn action_error<S>(action: ServerAction<S>) -> impl Fn() -> Option<String> + Copy
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    move || {
        action.value().with(|v| match v {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        })
    }
}

/// True once the action has succeeded.
pub fn action_done<S>(action: ServerAction<S>) -> impl Fn() -> bool + Copy
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    move || action.value().with(|v| matches!(v, Some(Ok(_))))
}
