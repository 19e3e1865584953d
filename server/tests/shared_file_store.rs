//! Two instances with data directories of their own share photos through one S3-compatible
//! bucket (`INSECTID_FILE_STORE=s3://…`, the server `make test` starts): a photo sent to one is
//! served by the other, removed through the other, and `insectid check` sees the bucket.

use std::path::Path;
use std::process::Command;

use insectid::storage::{PhotoStore, StoreLocation};

mod common;

use common::{http, http_bytes, photo_upload, session_cookie, start, ADMIN_PASSWORD};

fn check(url: &str, data: &Path, store: &str) -> (bool, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_insectid"))
        .args(["--data-dir", &data.display().to_string(), "check", "--json"])
        .env("INSECTID_DATABASE_URL", url)
        .env("INSECTID_FILE_STORE", store)
        .env("INSECTID_LOG", "warn")
        .output()
        .unwrap();
    (out.status.success(), serde_json::from_slice(&out.stdout).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_with_their_own_disks_share_photos_through_one_bucket() {
    let Ok(admin_url) = std::env::var("INSECTID_TEST_DATABASE_URL") else {
        assert_eq!(
            std::env::var("INSECTID_TEST_SKIP_POSTGRES").as_deref(),
            Ok("1"),
            "INSECTID_TEST_DATABASE_URL is not set"
        );
        return;
    };
    let Ok(bucket) = std::env::var("INSECTID_TEST_S3_URL") else {
        eprintln!(
            "INSECTID_TEST_S3_URL unset: the shared-bucket test needs an S3-compatible server (make test starts one)"
        );
        return;
    };
    let t = insectid::testing::postgres_database(&admin_url).await;
    let url = t.url();
    let store = format!("{bucket}/instances-{}", std::process::id());
    let work_dir = insectid::testing::TempDir::new("insectid-shared-store");
    let work = work_dir.path().to_path_buf();
    std::fs::create_dir_all(&work).unwrap();
    let env = [("INSECTID_FILE_STORE", store.as_str())];
    let a = start(&url, &work.join("a"), &work.join("a.log"), &env);
    let b = start(&url, &work.join("b"), &work.join("b.log"), &env);

    let (status, head, body) =
        http(a.port, "POST", "/api/sign_in", None, &format!("username=root&password={ADMIN_PASSWORD}"));
    assert_eq!(status, 200, "{body}");
    let cookie = session_cookie(&head);
    let photo = insectid::testing::coloured_photo(1, 4242);
    let (content_type, upload) = photo_upload("beetle.png", &photo);
    let (status, _, answer) = http_bytes(a.port, "POST", "/api/v1/identify", Some(&cookie), &content_type, &upload);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let sha = answer["results"][0]["image_sha256"].as_str().unwrap().to_string();
    let id = answer["results"][0]["id"].as_i64().unwrap();

    // B has never seen the photo on its own disk, yet serves it and its thumbnail.
    let (status, _, served) = http_bytes(b.port, "GET", &format!("/photos/{sha}"), Some(&cookie), "text/plain", b"");
    assert_eq!((status, served == photo), (200, true), "B serves the photo A stored");
    let (status, _, thumb) =
        http_bytes(b.port, "GET", &format!("/photos/{sha}/thumb"), Some(&cookie), "text/plain", b"");
    assert_eq!(status, 200);
    assert_eq!(image::guess_format(&thumb).ok(), Some(image::ImageFormat::Jpeg));
    for instance in ["a", "b"] {
        assert!(!work.join(instance).join("photos").exists(), "instance {instance} kept no photo on its disk");
    }
    let location: StoreLocation = store.parse().unwrap();
    let bucket_view = PhotoStore::at(&location).unwrap();
    assert_eq!(bucket_view.read(&sha).await.unwrap(), photo, "the photo is in the bucket");
    let (clean, report) = check(&url, &work.join("b"), &store);
    assert!(clean, "{report}");
    assert_eq!((report["identifications"].as_u64(), report["photos"].as_u64()), (Some(1), Some(1)), "{report}");

    // Deleted through B: gone from the bucket, so A no longer serves it.
    let (status, _, body) = http(b.port, "POST", "/api/delete_identification", Some(&cookie), &format!("id={id}"));
    assert!(status == 200 || status == 302, "{status} {body}");
    assert!(!bucket_view.contains(&sha).await.unwrap(), "the photo left the bucket");
    let (status, _, _) = http_bytes(a.port, "GET", &format!("/photos/{sha}"), Some(&cookie), "text/plain", b"");
    assert_eq!(status, 404);
    let (clean, report) = check(&url, &work.join("a"), &store);
    assert!(clean && report["photos"].as_u64() == Some(0), "{report}");

    drop((a, b));
    t.close().await;
}
