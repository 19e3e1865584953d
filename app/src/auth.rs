//! The account actions shared by the navigation and the pages, and the signed-in user they
//! keep fresh: any of them finishing refetches `me`.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{ChangePassword, DeleteAccount, Me, SignIn, SignOut, SignUp, UpdateProfile};
use crate::error::AppError;

#[derive(Clone, Copy)]
pub struct Auth {
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
    pub update_profile: ServerAction<UpdateProfile>,
    pub change_password: ServerAction<ChangePassword>,
    pub delete_account: ServerAction<DeleteAccount>,
    pub me: Resource<Result<Option<Me>, AppError>>,
}

pub fn provide_auth() -> Auth {
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let update_profile = ServerAction::<UpdateProfile>::new();
    let change_password = ServerAction::<ChangePassword>::new();
    let delete_account = ServerAction::<DeleteAccount>::new();
    let me = Resource::new(
        move || {
            (
                sign_in.version().get(),
                sign_up.version().get(),
                sign_out.version().get(),
                update_profile.version().get(),
                change_password.version().get(),
                delete_account.version().get(),
            )
        },
        |_| async { crate::api::get_me().await },
    );
    let auth = Auth { sign_in, sign_up, sign_out, update_profile, change_password, delete_account, me };
    provide_context(auth);
    auth
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
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
