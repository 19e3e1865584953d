//! Personal API tokens through the real router (SQLite and PostgreSQL): made on My account and
//! shown once, the scope matrix over the REST routes, never accepted by server functions,
//! revocation, expiry, a disabled account, a demoted administrator, last use and the
//! per-token rate limit.

mod common;

use axum::http::{header, StatusCode};
use common::router::{Answer, Client};
use common::TempDir;
use insectid::testing::{test_databases, test_model_dir};
use tower::ServiceExt;

const PASSWORD: &str = "violet-moth-harvest-42";

/// Makes a token on the account page as its owner would; returns the secret the page shows.
async fn make_token(client: &Client, cookie: &str, name: &str, scopes: &[&str]) -> String {
    let checked: String = scopes.iter().map(|s| format!("&{s}=on")).collect();
    let form = format!("name={name}{checked}&expires_in_days=30");
    let Answer { status, text, .. } = client.form("/api/create_api_token", Some(cookie), &form).await;
    assert!(status.is_success() || status.is_redirection(), "{name}: {status} {text}");
    let shown = client.form("/api/take_new_api_token", Some(cookie), "").await.json();
    let secret = shown.as_str().unwrap_or_else(|| panic!("the new token is shown: {shown}")).to_string();
    let again = client.form("/api/take_new_api_token", Some(cookie), "").await.json();
    assert!(again.is_null(), "a token is shown once: {again}");
    assert!(secret.starts_with("iid_") && secret.len() == 68, "{secret}");
    secret
}

/// Every route a scope opens, with a request that reaches the service when allowed (an id
/// that does not exist answers 404 then).
fn scope_routes() -> Vec<(&'static str, &'static str, &'static str, String, Vec<u8>)> {
    let (ct, body) = common::router::multipart_file("a.png", "image/png", &common::router::png());
    let json = || ("application/json".to_string(), br#"{"kind": "correct"}"#.to_vec());
    vec![
        ("identify", "POST", "/api/v1/identify", ct, body),
        ("read", "GET", "/api/v1/identifications", String::new(), vec![]),
        ("read", "GET", "/api/v1/identifications/999999", String::new(), vec![]),
        ("write", "DELETE", "/api/v1/identifications/999999", String::new(), vec![]),
        ("write", "POST", "/api/v1/identifications/999999/feedback", json().0, json().1),
        ("admin", "GET", "/api/v1/models", String::new(), vec![]),
        ("admin", "POST", "/api/v1/models/999999/activate", String::new(), vec![]),
        ("admin", "GET", "/api/v1/jobs/999999", String::new(), vec![]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_act_within_their_scopes_until_revoked_expired_or_disabled() {
    use clap::Parser;
    for t in test_databases().await {
        let dir = TempDir::new("insectid-api-tokens");
        let mut config = server::config::Cli::parse_from(["insectid"]).config;
        config.database_url = Some(t.url());
        config.model_dir = Some(test_model_dir());
        config.data_dir = dir.path().to_path_buf();
        config.device = insectid::inference::DevicePreference::Cpu;
        config.admin_username = Some("root".into());
        config.admin_password = Some(PASSWORD.into());
        config.token_requests_per_minute = "read=3".parse().unwrap();
        let state = server::build_state(&config).await.unwrap();
        let db = state.db.clone();
        let client = Client { app: server::build_app(state) };
        client.sign_up("ann", PASSWORD).await;
        let (ann, root) = (client.sign_in("ann", PASSWORD).await, client.sign_in("root", PASSWORD).await);

        // One token per scope (admin's for the administrator); a person cannot give themselves admin.
        let mut tokens = Vec::new();
        for scope in ["identify", "read", "write"] {
            tokens.push((scope, make_token(&client, &ann, scope, &[scope]).await));
        }
        tokens.push(("admin", make_token(&client, &root, "ops", &["admin"]).await));
        let refused = client.form("/api/create_api_token", Some(&ann), "name=sneaky&admin=on").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        let nameless = client.form("/api/create_api_token", Some(&ann), "name=&read=on").await;
        assert_eq!(nameless.status, StatusCode::BAD_REQUEST, "{}", nameless.text);

        // The scope matrix: each token reaches its own scope's route and no other.
        for (scope, token) in &tokens {
            for (needs, method, uri, ct, body) in scope_routes() {
                let Answer { status, text, .. } = client.bearer(method, uri, token, &ct, body).await;
                if needs == *scope {
                    assert!(
                        status == StatusCode::OK || (uri.contains("999999") && status == StatusCode::NOT_FOUND),
                        "{scope} token, {method} {uri}: {status} {text}"
                    );
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{scope} token, {method} {uri}: {text}");
                    assert!(text.contains(&format!("lacks the {needs} scope")), "{text}");
                }
            }
        }
        let (identify, read) = (&tokens[0].1, &tokens[1].1);
        // An identification made with a token is its owner's, and read back with another.
        let (ct, body) = common::router::multipart_file("b.png", "image/png", &common::router::png());
        let made = client.bearer("POST", "/api/v1/identify", identify, &ct, body).await.json();
        let id = made["results"][0]["id"].as_i64().expect("recorded for ann");
        let one = client.bearer("GET", &format!("/api/v1/identifications/{id}"), read, "", vec![]).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert!(one.json()["owned"].as_bool().unwrap());

        // Tokens never authenticate the pages' server functions: no session, no account.
        let as_page = client.bearer("POST", "/api/api_tokens", read, "application/x-www-form-urlencoded", vec![]).await;
        assert_eq!(as_page.status, StatusCode::UNAUTHORIZED, "{}", as_page.text);
        // A malformed or unknown token is refused, saying how to authenticate.
        for bad in ["iid_nothex", "iid_0000000000000000000000000000000000000000000000000000000000000000"] {
            let answer = client.bearer("GET", "/api/v1/identifications", bad, "", vec![]).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}: {}", answer.text);
            assert_eq!(answer.json()["status"], 401);
            assert!(answer.headers.get(header::WWW_AUTHENTICATE).is_some());
        }
        let basic = client.send("GET", "/api/v1/identifications", None, "", vec![]).await;
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED, "{}", basic.text);

        // The per-token limit of the read scope (3 a minute here, all used above): 429 with Retry-After.
        let limited = client.bearer("GET", "/api/v1/identifications", read, "", vec![]).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text);
        let wait: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(limited.json()["status"], 429);
        // Another token of the same person has its own allowance; the session none of these.
        let write = &tokens[2].1;
        let other = client.bearer("DELETE", "/api/v1/identifications/999999", write, "", vec![]).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);

        // The page lists them with their prefix and last use, never the secret.
        let listed = client.form("/api/api_tokens", Some(&ann), "").await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        assert!(!listed.text.contains(read.as_str()), "the secret is never listed");
        let list = listed.json();
        let row = |name: &str| list["tokens"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap().clone();
        assert_eq!(row("read")["prefix"].as_str().unwrap(), &read[..12]);
        assert!(row("read")["last_used_at"].is_string(), "{list}");
        assert_eq!(list["may_administer"], false);

        // Revoked: refused at once.
        let revoke = client.form("/api/revoke_api_token", Some(&ann), &format!("id={}", row("identify")["id"])).await;
        assert!(revoke.status.is_success() || revoke.status.is_redirection(), "{}", revoke.text);
        let (ct, body) = common::router::multipart_file("c.png", "image/png", &common::router::png());
        let after = client.bearer("POST", "/api/v1/identify", identify, &ct, body).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
        // Someone else's token cannot be revoked by her.
        let root_tokens = client.form("/api/api_tokens", Some(&root), "").await.json();
        let roots = root_tokens["tokens"][0]["id"].clone();
        let theirs = client.form("/api/revoke_api_token", Some(&ann), &format!("id={roots}")).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);

        // A token reaches its owner's identifications only; an administrator's read and write
        // tokens too (only the admin scope carries the role), while the session sees everything.
        client.sign_up("cal", PASSWORD).await;
        let cal = client.sign_in("cal", PASSWORD).await;
        let cals_read = make_token(&client, &cal, "cal-read", &["read"]).await;
        let roots_rw = make_token(&client, &root, "root-rw", &["read", "write"]).await;
        let anns = format!("/api/v1/identifications/{id}");
        for token in [&cals_read, &roots_rw] {
            let seen = client.bearer("GET", &anns, token, "", vec![]).await;
            assert_eq!(seen.status, StatusCode::NOT_FOUND, "{}", seen.text);
        }
        let deleted = client.bearer("DELETE", &anns, &roots_rw, "", vec![]).await;
        assert_eq!(deleted.status, StatusCode::NOT_FOUND, "{}", deleted.text);
        let by_session = client.send("GET", &anns, Some(&root), "", vec![]).await;
        assert_eq!(by_session.status, StatusCode::OK, "{}", by_session.text);
        // Another scheme (a proxy's Basic authentication) leaves the session to speak; the
        // Bearer scheme's name is read in any case.
        let basic = client
            .app
            .clone()
            .oneshot(
                axum::http::Request::get(anns.as_str())
                    .header(header::COOKIE, &root)
                    .header(header::AUTHORIZATION, "Basic cm9vdDp4")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(basic.status(), StatusCode::OK);
        let lowercase = client
            .app
            .clone()
            .oneshot(
                axum::http::Request::get("/api/v1/identifications")
                    .header(header::AUTHORIZATION, format!("bearer {cals_read}"))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(lowercase.status(), StatusCode::OK);

        // Expired: refused.
        {
            use insectid::entities::api_token;
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            let past = chrono::Utc::now() - chrono::Duration::minutes(1);
            api_token::Entity::update_many()
                .col_expr(api_token::Column::ExpiresAt, sea_orm::sea_query::Expr::value(past))
                .filter(api_token::Column::Name.eq("write"))
                .exec(&db)
                .await
                .unwrap();
        }
        let expired = client.bearer("DELETE", "/api/v1/identifications/999999", write, "", vec![]).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.text);
        let states = client.form("/api/api_tokens", Some(&ann), "").await.json();
        let state_of = |name: &str| {
            states["tokens"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["state"].clone()
        };
        assert_eq!((state_of("identify"), state_of("write")), ("revoked".into(), "expired".into()));

        // A disabled account's tokens stop at once, and work again when it is enabled.
        let ann_id = user_id(&db, "ann").await;
        let fresh = make_token(&client, &ann, "read-again", &["read"]).await;
        let disable = client.form("/api/set_user_active", Some(&root), &format!("id={ann_id}&active=false")).await;
        assert_eq!(disable.status, StatusCode::OK, "{}", disable.text);
        let disabled = client.bearer("GET", &anns, &fresh, "", vec![]).await;
        assert_eq!(disabled.status, StatusCode::UNAUTHORIZED, "{}", disabled.text);
        assert!(disabled.text.contains("not active"), "{}", disabled.text);
        let enable = client.form("/api/set_user_active", Some(&root), &format!("id={ann_id}&active=true")).await;
        assert_eq!(enable.status, StatusCode::OK, "{}", enable.text);
        let again = client.bearer("GET", &anns, &fresh, "", vec![]).await;
        assert_eq!(again.status, StatusCode::OK, "enabled again, the token works again: {}", again.text);
        // A new password revokes every token of its owner (a session taken over may have made them).
        let ann_again = client.sign_in("ann", PASSWORD).await;
        let new_password = "amber-beetle-orchard-77";
        let form = format!("current={PASSWORD}&new={new_password}&new_again={new_password}");
        let changed = client.form("/api/change_password", Some(&ann_again), &form).await;
        assert!(changed.status.is_success() || changed.status.is_redirection(), "{}", changed.text);
        let after_change = client.bearer("GET", &anns, &fresh, "", vec![]).await;
        assert_eq!(after_change.status, StatusCode::UNAUTHORIZED, "{}", after_change.text);

        // An administrator's admin token stops doing admin work when they are no longer one.
        let admin_token = &tokens[3].1;
        let root_id = user_id(&db, "root").await;
        client.sign_up("bea", PASSWORD).await;
        let bea = user_id(&db, "bea").await;
        let promote = client.form("/api/set_user_role", Some(&root), &format!("id={bea}&role=admin")).await;
        assert_eq!(promote.status, StatusCode::OK, "{}", promote.text);
        let bea_cookie = client.sign_in("bea", PASSWORD).await;
        let demote = client.form("/api/set_user_role", Some(&bea_cookie), &format!("id={root_id}&role=user")).await;
        assert_eq!(demote.status, StatusCode::OK, "{}", demote.text);
        let demoted = client.bearer("GET", "/api/v1/models", admin_token, "", vec![]).await;
        assert_eq!(demoted.status, StatusCode::FORBIDDEN, "{}", demoted.text);
        assert!(demoted.text.contains("no longer an administrator"), "{}", demoted.text);
        t.close().await;
    }
}

async fn user_id(db: &sea_orm::DatabaseConnection, name: &str) -> i64 {
    use insectid::entities::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    user::Entity::find().filter(user::Column::UsernameKey.eq(name)).one(db).await.unwrap().expect("signed up").id
}
