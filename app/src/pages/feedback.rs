//! Feedback: the form under a result, and the review queue for labelers and administrators.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{
    get_feedback_queue, get_label_choices, FeedbackKind, FeedbackState, FeedbackView, ResultView, ReviewFeedback,
    SendFeedback,
};
use crate::auth::{action_error, use_auth};
use crate::i18n::{use_lang, Lang};

fn state_text(lang: Lang, f: &FeedbackView) -> String {
    match f.state {
        FeedbackState::Accepted => lang.t("Accepted: the photo now carries this label.").to_string(),
        FeedbackState::Rejected => format!("{} {}", lang.t("Rejected:"), f.reason.clone().unwrap_or_default()),
        FeedbackState::Pending => lang.t("Waiting for a labeler's review.").to_string(),
    }
}

/// The species names a person may type, offered by the browser as they type (no script needed).
/// Rendered at the page's top level: a suspense nested inside a form under another suspense
/// does not hydrate reliably.
#[component]
pub fn LabelChoices(id: &'static str) -> impl IntoView {
    let choices = Resource::new(|| (), |_| get_label_choices());
    view! {
        <Suspense fallback=|| ()>
            {move || choices.get().and_then(|r| r.ok()).map(|list| view! {
                <datalist id=id>{list.into_iter().map(|c| view! { <option value=c/> }).collect_view()}</datalist>
            })}
        </Suspense>
    }
}

/// "Is this right?" under a result: correct, wrong (and what it is), or not an insect.
#[component]
pub fn FeedbackSection(result: ResultView) -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    let send = ServerAction::<SendFeedback>::new();
    let error = action_error(send);
    let query = use_query_map();
    let sent = move || send.value().get().is_some_and(|r| r.is_ok()) || query.with(|q| q.get("feedback").is_some());
    let existing = result.feedback.clone();
    let kind = existing.as_ref().map(|f| f.kind);
    let label = existing
        .as_ref()
        .and_then(|f| f.label.clone())
        .filter(|_| kind == Some(FeedbackKind::Wrong))
        .unwrap_or_default();
    let comment = existing.as_ref().map(|f| f.comment.clone()).unwrap_or_default();
    let id = result.id;
    view! {
        <section class="card feedback" id="feedback" aria-labelledby="feedback-title">
            <h2 id="feedback-title">{lang.t("Is this right?")}</h2>
            <Suspense fallback=|| ()>
                {move || auth.me.get().map(|me| match me {
                    Ok(Some(_)) => {
                        let (kind, label, comment) = (kind, label.clone(), comment.clone());
                        view! {
                            {existing.clone().map(|f| view! { <p class=format!("feedback-state {}", f.state.as_str()) data-testid="feedback-state">{state_text(lang, &f)}</p> })}
                            <ActionForm action=send attr:class="form" attr:id="feedback-form">
                                <input type="hidden" name="identification" value=id.to_string()/>
                                <fieldset>
                                    <legend>{lang.t("Your answer")}</legend>
                                    <label class="choice"><input type="radio" name="kind" value=FeedbackKind::Correct.as_str() checked=kind == Some(FeedbackKind::Correct) required/>{lang.t("Correct")}</label>
                                    <label class="choice"><input type="radio" name="kind" value=FeedbackKind::Wrong.as_str() checked=kind == Some(FeedbackKind::Wrong)/>{lang.t("Wrong: it is…")}</label>
                                    <label class="choice"><input type="radio" name="kind" value=FeedbackKind::NotInsect.as_str() checked=kind == Some(FeedbackKind::NotInsect)/>{lang.t("Not an insect")}</label>
                                </fieldset>
                                <label>{lang.t("Species (when wrong)")}
                                    <input type="text" name="label" list="feedback-species" value=label maxlength="200" autocomplete="off"/>
                                </label>
                                // An input, not a textarea: an empty textarea has no text node to hydrate against.
                                <label>{lang.t("Comment (optional)")}<input type="text" name="comment" maxlength="2000" value=comment/></label>
                                {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                                <Show when=sent><p class="ok" role="status">{lang.t("Thank you: your feedback was saved.")}</p></Show>
                                <button type="submit" class="button">{lang.t("Send feedback")}</button>
                            </ActionForm>
                        }.into_any()
                    }
                    _ => view! { <p class="hint">{lang.t("Sign in to tell us whether the answer was right.")}" "<a href="/signin">{lang.t("Sign in")}</a></p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn verdict_of(lang: Lang, f: &FeedbackView) -> String {
    match f.kind {
        FeedbackKind::Correct => format!("{} {}", lang.t("correct:"), f.model_label),
        FeedbackKind::NotInsect => lang.t("not an insect").to_string(),
        FeedbackKind::Wrong => format!("{} {}", lang.t("it is"), f.label.clone().unwrap_or_default()),
    }
}

#[component]
pub fn FeedbackQueuePage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let get = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    let review = ServerAction::<ReviewFeedback>::new();
    let review_error = action_error(review);
    let queue = Resource::new(
        move || {
            (
                get("state"),
                get("species"),
                get("model"),
                get("from"),
                get("to"),
                get("page").parse::<u64>().unwrap_or(0),
                review.version().get(),
            )
        },
        |(state, species, model, from, to, page, _)| get_feedback_queue(state, species, model, from, to, page),
    );
    view! {
        <Title text=lang.t("Feedback")/>
        <h1>{lang.t("Feedback")}</h1>
        <form method="get" action="/feedback" class="search filters" role="search">
            <label>{lang.t("State")}
                <select name="state">
                    {std::iter::once(("", lang.t("all"))).chain(FeedbackState::ALL.map(|s| (s.as_str(), lang.t(s.as_str()))))
                        .map(|(v, t)| view! { <option value=v selected=move || get("state") == v>{t}</option> }).collect_view()}
                </select>
            </label>
            <label>{lang.t("Species")}<input type="search" name="species" value=move || get("species")/></label>
            <label>{lang.t("Model version")}<input type="search" name="model" value=move || get("model")/></label>
            <label>{lang.t("From")}<input type="date" name="from" value=move || get("from")/></label>
            <label>{lang.t("To")}<input type="date" name="to" value=move || get("to")/></label>
            <button type="submit" class="button">{lang.t("Filter")}</button>
        </form>
        {move || review_error().map(|m| view! { <p class="error" role="alert" id="review-error">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || queue.get().map(|r| match r {
                Ok(q) if q.items.is_empty() => view! { <p class="notice" role="status">{lang.t("No feedback matches.")}</p> }.into_any(),
                Ok(q) => {
                    let pages = q.total.div_ceil(q.per_page).max(1);
                    view! {
                        <p>{format!("{} · {} {} / {pages}", q.total, lang.t("page"), q.page + 1)}</p>
                        <ActionForm action=review attr:id="review-form" attr:class="review">
                            <div class="table-wrap">
                                <table class="data" id="feedback-table">
                                    <thead><tr><th>{lang.t("Choose")}</th><th>{lang.t("Photo")}</th><th>{lang.t("Model said")}</th><th>{lang.t("Person said")}</th><th>{lang.t("State")}</th></tr></thead>
                                    <tbody>
                                        {q.items.into_iter().enumerate().map(|(i, f)| view! {
                                            <tr data-id=f.id>
                                                <td><input type="checkbox" name=format!("ids[{i}]") value=f.id.to_string() aria-label=format!("{} {}", lang.t("Choose feedback"), f.id)/></td>
                                                <td><a href=format!("/results/{}", f.identification_id)><img src=format!("/photos/{}/thumb", f.image_sha256) alt="" width="64" height="64" loading="lazy"/></a></td>
                                                <td>{f.model_label.clone()}<br/><span class="hint">{f.model_version.clone()}</span></td>
                                                <td>{verdict_of(lang, &f)}<br/><span class="hint">{f.comment.clone()}</span></td>
                                                <td class=format!("feedback-state {}", f.state.as_str())>{f.state.as_str()}{f.reason.clone().map(|r| format!(": {r}"))}<br/><span class="hint">{f.created_at.clone()}</span></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <div class="inline bulk">
                                <button type="submit" name="decision" value="accept" class="button">{lang.t("Accept chosen")}</button>
                                <label>{lang.t("Reason")}<input type="text" name="reason" maxlength="500"/></label>
                                <button type="submit" name="decision" value="reject" class="button danger">{lang.t("Reject chosen")}</button>
                            </div>
                        </ActionForm>
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        <p><a href="/label">{lang.t("Label data")}</a>" · "<a href="/datasets">{lang.t("Datasets")}</a></p>
    }
}
