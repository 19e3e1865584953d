//! Insect Identifier's load plan. Scenarios:
//! - `ssr`: anonymous species pages, back to back (the SSR throughput figure);
//! - `browse`: anonymous visitors: home, catalogue, a search, a species page;
//! - `account`: a person signs in, looks at their history and profile, signs out;
//! - `identify`: a signed-in person identifies a photo, opens the result, says it was right;
//! - `label`: a labeler takes the next photo of the queue and labels it.
//!
//! Settings beside goose's own flags, from the environment: LOAD_PHOTOS (a folder of JPEGs),
//! LOAD_ACCOUNTS (lines "username password role", made by scripts/load.sh), LOAD_SUMMARY
//! (where the per-transaction summary JSON goes), LOAD_RATE (requests per second for the whole
//! process, on a fixed timetable; see pace.rs). A transaction's time includes its wait for its
//! turn; a request's time is the portal's alone.

mod data;
mod pace;
mod summary;

use goose::prelude::*;
use rand::seq::IndexedRandom;

use data::{learn_species_keys, Fixtures, Visitor};

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let fixtures = Fixtures::load().map_err(|e| GooseError::InvalidOption { option: "LOAD_*".into(), value: e.clone(), detail: e })?;
    data::FIXTURES.set(fixtures).ok();
    pace::from_env().map_err(|e| GooseError::InvalidOption { option: "LOAD_RATE".into(), value: e.clone(), detail: e })?;
    let metrics = GooseAttack::initialize()?
        .test_start(transaction!(learn_species_keys))
        .register_scenario(
            scenario!("ssr").register_transaction(transaction!(species_page).set_name("species page")),
        )
        .register_scenario(
            scenario!("browse")
                .set_weight(6)?
                .register_transaction(transaction!(home).set_name("home"))
                .register_transaction(transaction!(species_list).set_name("species list"))
                .register_transaction(transaction!(species_search).set_name("species search"))
                .register_transaction(transaction!(species_page).set_name("species page").set_weight(3)?),
        )
        .register_scenario(
            scenario!("account")
                .set_weight(1)?
                .register_transaction(transaction!(sign_in_user).set_name("sign in").set_sequence(1))
                .register_transaction(transaction!(history).set_name("history").set_sequence(2))
                .register_transaction(transaction!(profile).set_name("profile").set_sequence(3))
                .register_transaction(transaction!(sign_out).set_name("sign out").set_sequence(4)),
        )
        .register_scenario(
            scenario!("identify")
                .set_weight(2)?
                .register_transaction(transaction!(sign_in_user).set_name("sign in").set_on_start())
                .register_transaction(transaction!(identify).set_name("identify").set_sequence(1))
                .register_transaction(transaction!(result_page).set_name("result page").set_sequence(2))
                .register_transaction(transaction!(feedback).set_name("feedback").set_sequence(3)),
        )
        .register_scenario(
            scenario!("label")
                .set_weight(1)?
                .register_transaction(transaction!(sign_in_labeler).set_name("sign in").set_on_start())
                .register_transaction(transaction!(label).set_name("label")),
        )
        .execute()
        .await?;
    summary::write(&metrics).map_err(|e| GooseError::InvalidOption { option: "LOAD_SUMMARY".into(), value: e.clone(), detail: e })?;
    Ok(())
}

async fn home(user: &mut GooseUser) -> TransactionResult {
    data::get(user, "/", "/").await?;
    Ok(())
}

async fn species_list(user: &mut GooseUser) -> TransactionResult {
    data::get(user, "/species", "/species").await?;
    Ok(())
}

async fn species_search(user: &mut GooseUser) -> TransactionResult {
    let term = *["weevil", "moth", "aphid", "beetle", "rice", "稻"].choose(&mut rand::rng()).unwrap_or(&"moth");
    let path = format!("/species?q={term}");
    data::get(user, &path, "/species?q={term}").await?;
    Ok(())
}

async fn species_page(user: &mut GooseUser) -> TransactionResult {
    let key = data::species_key();
    data::get(user, &format!("/species/{key}"), "/species/{key}").await?;
    Ok(())
}

async fn sign_in_user(user: &mut GooseUser) -> TransactionResult {
    data::sign_in(user, "user").await
}

async fn sign_in_labeler(user: &mut GooseUser) -> TransactionResult {
    data::sign_in(user, "labeler").await
}

async fn history(user: &mut GooseUser) -> TransactionResult {
    data::get(user, "/history", "/history").await?;
    Ok(())
}

async fn profile(user: &mut GooseUser) -> TransactionResult {
    data::get(user, "/me", "/me").await?;
    Ok(())
}

async fn sign_out(user: &mut GooseUser) -> TransactionResult {
    data::server_fn(user, "sign_out", &[]).await?;
    Ok(())
}

async fn identify(user: &mut GooseUser) -> TransactionResult {
    let (name, photo) = data::photo();
    let boundary = "insectidloadboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/api/v1/identify")?
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    let request = GooseRequest::builder().method(GooseMethod::Post).path("/api/v1/identify").set_request_builder(builder).build();
    pace::turn().await;
    let mut goose = user.request(request).await?;
    let id = match goose.response {
        Ok(response) => response.json::<serde_json::Value>().await.ok().and_then(|v| v["results"][0]["id"].as_i64()),
        Err(_) => None,
    };
    if id.is_none() {
        return user.set_failure("identify answered without an identification id", &mut goose.request, None, None);
    }
    if let Some(visitor) = user.get_session_data_mut::<Visitor>() {
        visitor.last_identification = id;
    }
    Ok(())
}

async fn result_page(user: &mut GooseUser) -> TransactionResult {
    let Some(id) = user.get_session_data::<Visitor>().and_then(|v| v.last_identification) else { return Ok(()) };
    data::get(user, &format!("/results/{id}"), "/results/{id}").await?;
    Ok(())
}

async fn feedback(user: &mut GooseUser) -> TransactionResult {
    let Some(id) = user.get_session_data::<Visitor>().and_then(|v| v.last_identification) else { return Ok(()) };
    data::server_fn(user, "send_feedback", &[("identification", &id.to_string()), ("kind", "correct")]).await?;
    Ok(())
}

async fn label(user: &mut GooseUser) -> TransactionResult {
    let goose = data::server_fn(user, "label_task", &[]).await?;
    let task: Option<serde_json::Value> = match goose.response {
        Ok(response) => response.json().await.ok(),
        Err(_) => None,
    };
    // An empty queue is no error: the identify scenario refills it.
    let Some(item) = task.as_ref().map(|t| &t["item"]).filter(|i| !i.is_null()) else { return Ok(()) };
    let sha = item["image_sha256"].as_str().unwrap_or_default().to_string();
    let pick = item["suggestions"][0][0].as_str().unwrap_or("weevil").to_string();
    data::server_fn(user, "label_photo", &[("sha", &sha), ("pick", &pick)]).await?;
    Ok(())
}
