//! User management and the audit log (administrators; the server refuses everyone else).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_audit_log, get_users, DeleteUser, ResetUserPassword, SetUserActive, SetUserRole, UserRow};
use crate::auth::action_error;
use crate::i18n::use_lang;

#[derive(Clone, Copy)]
struct AdminActions {
    set_role: ServerAction<SetUserRole>,
    set_active: ServerAction<SetUserActive>,
    reset_password: ServerAction<ResetUserPassword>,
    delete: ServerAction<DeleteUser>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let search = move || query.with(|q| q.get("q").unwrap_or_default());
    let page = move || query.with(|q| q.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0));
    let audit_page = move || query.with(|q| q.get("audit_page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0));
    let actions = AdminActions {
        set_role: ServerAction::new(),
        set_active: ServerAction::new(),
        reset_password: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let versions = move || {
        (
            actions.set_role.version().get(),
            actions.set_active.version().get(),
            actions.reset_password.version().get(),
            actions.delete.version().get(),
        )
    };
    let users = Resource::new(move || (search(), page(), versions()), |(s, p, _)| get_users(s, p));
    let audit = Resource::new(move || (audit_page(), versions()), |(p, _)| get_audit_log(p));
    let (e1, e2, e3, e4) = (
        action_error(actions.set_role),
        action_error(actions.set_active),
        action_error(actions.reset_password),
        action_error(actions.delete),
    );
    let first_error = move || e1().or_else(e2).or_else(e3).or_else(e4);
    view! {
        <Title text=lang.t("Users")/>
        <h1>{lang.t("Users")}</h1>
        <form method="get" action="/users" class="search" role="search">
            <label>{lang.t("Search")}<input type="search" name="q" value=search placeholder=lang.t("name or email")/></label>
            <button type="submit" class="button">{lang.t("Search")}</button>
        </form>
        {move || first_error().map(|m| view! { <p class="error" role="alert" id="admin-error">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading users…")}</p> }>
            {move || users.get().map(|r| match r {
                Ok(p) => {
                    let pages = p.total.div_ceil(p.per_page).max(1);
                    let q = search();
                    view! {
                        <p>{format!("{} {} · {} {} / {pages}", p.total, lang.t("users"), lang.t("page"), p.page + 1)}</p>
                        <div class="table-wrap">
                            <table class="data" id="users-table">
                                <thead><tr><th>{lang.t("User")}</th><th>{lang.t("Email")}</th><th>{lang.t("Role")}</th><th>{lang.t("Status")}</th><th>{lang.t("Password")}</th><th>{lang.t("Delete")}</th></tr></thead>
                                <tbody>{p.users.into_iter().map(|u| view! { <UserRowView user=u actions/> }).collect_view()}</tbody>
                            </table>
                        </div>
                        <nav class="pager" aria-label=lang.t("User pages")>
                            {(p.page > 0).then(|| view! { <a href=format!("/users?q={}&page={}", q, p.page - 1)>{lang.t("← Previous")}</a> })}
                            {(p.page + 1 < pages).then(|| view! { <a href=format!("/users?q={}&page={}", q, p.page + 1)>{lang.t("Next →")}</a> })}
                        </nav>
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert" id="users-error">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        <h2>{lang.t("Audit log")}</h2>
        <Suspense fallback=move || view! { <p>{lang.t("Loading the audit log…")}</p> }>
            {move || audit.get().map(|r| match r {
                Ok(log) => {
                    let pages = log.total.div_ceil(log.per_page).max(1);
                    view! {
                        <div class="table-wrap">
                            <table class="data" id="audit-table">
                                <thead><tr><th>{lang.t("When")}</th><th>{lang.t("Who")}</th><th>{lang.t("Action")}</th><th>{lang.t("Target")}</th><th>{lang.t("Detail")}</th><th>{lang.t("From")}</th></tr></thead>
                                <tbody>
                                    {log.events.into_iter().map(|e| view! {
                                        <tr><td>{e.at}</td><td>{e.actor}</td><td><code>{e.action}</code></td><td>{e.target}</td><td>{e.detail}</td><td>{e.client_addr.unwrap_or_default()}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <nav class="pager" aria-label=lang.t("Audit log pages")>
                            {(log.page > 0).then(|| view! { <a href=format!("/users?audit_page={}", log.page - 1)>{lang.t("← Newer")}</a> })}
                            {(log.page + 1 < pages).then(|| view! { <a href=format!("/users?audit_page={}", log.page + 1)>{lang.t("Older →")}</a> })}
                        </nav>
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn UserRowView(user: UserRow, actions: AdminActions) -> impl IntoView {
    let lang = use_lang();
    let id = user.id.to_string();
    let (id_role, id_active, id_reset, id_delete) = (id.clone(), id.clone(), id.clone(), id);
    let active = user.status == "active";
    let role = user.role.clone();
    let role_label = format!("{} {}", lang.t("Role of"), user.username);
    let password_label = format!("{} {}", lang.t("New password for"), user.username);
    view! {
        <tr data-username=user.username.clone()>
            <td><strong>{user.username.clone()}</strong><br/><span class="hint">{user.display_name.clone()}</span></td>
            <td>{user.email.clone().unwrap_or_default()}</td>
            <td>
                <ActionForm action=actions.set_role attr:class="inline">
                    <input type="hidden" name="id" value=id_role/>
                    <select name="role" aria-label=role_label>
                        {["user", "labeler", "admin"].map(|r| view! { <option value=r selected=role == r>{r}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="button small">{lang.t("Set role")}</button>
                </ActionForm>
            </td>
            <td>
                <span class=format!("status {}", user.status)>{user.status.clone()}</span>
                <ActionForm action=actions.set_active attr:class="inline">
                    <input type="hidden" name="id" value=id_active/>
                    <input type="hidden" name="active" value=(!active).to_string()/>
                    <button type="submit" class="button small">{if active { lang.t("Disable") } else { lang.t("Enable") }}</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=actions.reset_password attr:class="inline">
                    <input type="hidden" name="id" value=id_reset/>
                    <input type="password" name="password" placeholder=lang.t("new password") autocomplete="new-password" aria-label=password_label/>
                    <button type="submit" class="button small">{lang.t("Reset")}</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=actions.delete attr:class="inline">
                    <input type="hidden" name="id" value=id_delete/>
                    <label class="confirm"><input type="checkbox" name="confirm" value="yes"/>{lang.t("sure")}</label>
                    <button type="submit" class="button small danger">{lang.t("Delete")}</button>
                </ActionForm>
            </td>
        </tr>
    }
}
