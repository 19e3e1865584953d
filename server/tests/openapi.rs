//! The REST API's OpenAPI document: valid by an independent validator (openapi-spec-validator
//! from PyPI), naming exactly the routes the router serves under /api/v1, with the one error
//! shape; and `/api`, the same for people without JavaScript.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::router::Client;
use common::TempDir;
use insectid::testing::{sqlite_database, test_model_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_document_is_valid_and_names_every_route() {
    use clap::Parser;
    let t = sqlite_database().await;
    let dir = TempDir::new("insectid-openapi");
    let mut config = server::config::Cli::parse_from(["insectid"]).config;
    config.database_url = Some(t.url());
    config.model_dir = Some(test_model_dir());
    config.data_dir = dir.path().to_path_buf();
    config.device = insectid::inference::DevicePreference::Cpu;
    let client = Client { app: server::build_app(server::build_state(&config).await.unwrap()) };

    let answer = client.send("GET", "/api/v1/openapi.json", None, "", vec![]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    let document = answer.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);

    // Exactly these operations, and each is served (not 404 or 405) by the router.
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
        {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: BTreeSet<String> = [
        "GET /api/v1/model",
        "POST /api/v1/identify",
        "GET /api/v1/pressure.csv",
        "GET /api/v1/openapi.json",
        "GET /api/v1/species",
        "GET /api/v1/species/{key}",
        "GET /api/v1/identifications",
        "GET /api/v1/identifications/{id}",
        "DELETE /api/v1/identifications/{id}",
        "POST /api/v1/identifications/{id}/feedback",
        "GET /api/v1/search",
        "GET /api/v1/models",
        "POST /api/v1/models/{id}/activate",
        "GET /api/v1/jobs/{id}",
    ]
    .map(String::from)
    .into();
    assert_eq!(operations, expected);
    for operation in &operations {
        let (method, path) = operation.split_once(' ').unwrap();
        let path = path.replace("{key}", "ip102-11").replace("{id}", "1");
        let status = client.send(method, &path, None, "", vec![]).await.status;
        assert!(status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED, "{operation}: {status}");
    }
    assert_eq!(client.send("GET", "/api/v1/nothing", None, "", vec![]).await.status, StatusCode::NOT_FOUND);

    // The documented error shape is the one errors have.
    let error = document["components"]["schemas"]["ErrorBody"]["properties"].as_object().unwrap();
    assert_eq!(error.keys().collect::<Vec<_>>(), ["error", "status"]);
    let refused = client.send("GET", "/api/v1/pressure.csv?region=nowhere", None, "", vec![]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let body = refused.json();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["error", "status"]);
    assert_eq!(body["status"], 400);
    let identify = &document["paths"]["/api/v1/identify"]["post"];
    assert!(identify["requestBody"]["content"]["multipart/form-data"].is_object(), "{identify}");
    let ok = &identify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(ok, "#/components/schemas/IdentifyResponse");
    for schema in ["Identified", "Answer", "Verdict", "ScoredClass", "Timings", "ModelStatus"] {
        assert!(document["components"]["schemas"][schema].is_object(), "{schema} is described");
    }

    // The catalogue, paged by the API's convention; its errors in the one shape.
    let page = client.send("GET", "/api/v1/species?q=weevil&per_page=2&page=1", None, "", vec![]).await.json();
    let total = page["total"].as_u64().unwrap();
    assert!(total > 2 && page["items"].as_array().unwrap().len() == 2 && page["per_page"] == 2, "{page}");
    let last = client
        .send("GET", &format!("/api/v1/species?q=weevil&per_page=2&page={}", total.div_ceil(2)), None, "", vec![])
        .await;
    let on_last_page = if total % 2 == 1 { 1 } else { 2 };
    assert_eq!(last.json()["items"].as_array().unwrap().len() as u64, on_last_page);
    let one = client.send("GET", "/api/v1/species/ip102-11", None, "", vec![]).await.json();
    assert_eq!((one["key"].as_str(), one["name_en"].as_str()), (Some("ip102-11"), Some("rice water weevil")));
    for bad in ["/api/v1/species?per_page=201", "/api/v1/species?page=0", "/api/v1/species?page=x"] {
        let answer = client.send("GET", bad, None, "", vec![]).await;
        assert_eq!((answer.status, answer.json()["status"].as_u64()), (StatusCode::BAD_REQUEST, Some(400)), "{bad}");
    }
    let missing = client.send("GET", "/api/v1/species/nope", None, "", vec![]).await;
    assert_eq!((missing.status, missing.json()["status"].as_u64()), (StatusCode::NOT_FOUND, Some(404)));

    // An independent validator accepts it, and refuses it without its required `info`.
    if let Some(python) = insectid::testing::test_tools_python() {
        let validate = |doc: &serde_json::Value| {
            let file = dir.path().join("openapi.json");
            std::fs::write(&file, doc.to_string()).unwrap();
            let script =
                "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))";
            std::process::Command::new(&python).args(["-c", script]).arg(&file).output().unwrap()
        };
        let checked = validate(&document);
        assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
        let mut broken = document.clone();
        broken.as_object_mut().unwrap().remove("info");
        assert!(!validate(&broken).status.success(), "the validator notices a broken document");
    } else {
        eprintln!("INSECTID_TEST_TOOLS_PYTHON unset: the document was not validated (make test does)");
    }

    // The page for people: every operation and schema, no script.
    let page = client.send("GET", "/api", None, "", vec![]).await;
    assert_eq!(page.status, StatusCode::OK);
    for operation in &operations {
        assert!(page.text.contains(&format!("<code>{operation}</code>")), "{operation} on /api");
    }
    assert!(page.text.contains("id=\"schema-Identified\"") && !page.text.contains("<script"), "{}", page.text);
    t.close().await;
}
