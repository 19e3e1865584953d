//! Dataset versions from labels, export in both layouts, import back, and imports that meet
//! hostile or broken input. SQLite and PostgreSQL.

use std::path::Path;

use insectid::auth::Role;
use insectid::entities::dataset_version::VersionState;
use insectid::entities::{dataset_item, dataset_version};
use insectid::services::dataset_import::{self, plan};
use insectid::services::datasets::{self, Layout};
use insectid::services::labels;
use insectid::storage::PhotoStore;
use insectid::testing::{test_databases, TempDir};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

mod common;
use common::{account, identified};

/// A directory of the test's own, removed when the test ends, passed or not.
fn temp(tag: &str) -> TempDir {
    TempDir::new(&format!("insectid-ds-{tag}"))
}

fn png(seed: u8) -> Vec<u8> {
    insectid::testing::png(32, 24, |x, y| [seed, (x * 7) as u8, (y * 5) as u8])
}

async fn items(db: &DatabaseConnection, version: i64) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = dataset_item::Entity::find()
        .filter(dataset_item::Column::VersionId.eq(version))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.image_sha256, i.label, i.split))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_built_from_labels_exported_and_imported_back_unchanged() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = temp(&format!("rt-{}", t.backend));
        let root = root_dir.path();
        let photos = PhotoStore::open(root.join("photos")).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let lara = account(db, "lara", Role::Labeler).await;
        assert!(datasets::create_from_labels(db, Some(&lara), "rice", 1)
            .await
            .unwrap_err()
            .to_string()
            .contains("no photo has a label"));
        for i in 0..12u8 {
            let (_, sha) = identified(db, &photos, ann.id, 100 + i, "weevil", 0.4).await;
            labels::vote(db, Some(&lara), &sha, Some(if i % 2 == 0 { "rice water weevil" } else { "Rice Stemfly" }), 1)
                .await
                .unwrap();
        }
        assert_eq!(
            datasets::create_from_labels(db, Some(&ann), "rice", 1).await.unwrap_err().kind(),
            insectid::error::ErrorKind::Forbidden
        );
        assert!(datasets::create_from_labels(db, Some(&lara), "../evil", 1).await.is_err(), "names are plain");
        let v1 = datasets::create_from_labels(db, Some(&lara), "rice", 1).await.unwrap();
        assert_eq!((v1.version, v1.items, v1.classes, v1.state.as_str()), (1, 12, 2, "ready"));
        let first_items = items(db, v1.id).await;
        // A later label change makes a new version; version 1 never changes.
        let (_, extra) = identified(db, &photos, ann.id, 200, "weevil", 0.4).await;
        labels::vote(db, Some(&lara), &extra, Some("rice water weevil"), 1).await.unwrap();
        let v2 = datasets::create_from_labels(db, Some(&lara), "rice", 1).await.unwrap();
        assert_eq!((v2.version, v2.items), (2, 13));
        assert_eq!(items(db, v1.id).await, first_items);
        let listed = datasets::list(db, Some(&lara)).await.unwrap();
        assert_eq!(listed[0].version.version, 2);
        assert_eq!(listed[1].per_split.iter().sum::<u64>(), 12);

        for (layout, name) in [(Layout::Ip102, "ip102"), (Layout::Folders, "folders")] {
            let out = root.join(format!("export-{name}"));
            assert_eq!(datasets::export(db, &photos, "rice@1", layout, &out).await.unwrap(), 12);
            assert!(
                datasets::export(db, &photos, "rice@1", layout, &out).await.is_err(),
                "never into a non-empty folder"
            );
            if layout == Layout::Ip102 {
                let classes = std::fs::read_to_string(out.join("classes.txt")).unwrap();
                assert_eq!(classes, "1 Rice Stemfly\n2 rice water weevil\n");
                let train = std::fs::read_to_string(out.join("train.txt")).unwrap();
                assert!(train.lines().all(|l| l.ends_with(" 0") || l.ends_with(" 1")), "{train}");
            } else {
                assert!(out.join("train").join("rice water weevil").is_dir());
            }
            // Importing the export gives a version with the same photos, labels and splits.
            let job = dataset_import::start(db, &format!("back-{name}"), &out, 5).await.unwrap();
            assert_eq!(job.layout, name);
            let done = dataset_import::run(db, &photos, job.id, |_| {}).await.unwrap();
            assert_eq!((done.state.as_str(), done.total, done.imported), ("done", 12, 12));
            let back = dataset_version::Entity::find_by_id(done.version_id).one(db).await.unwrap().unwrap();
            assert_eq!(items(db, back.id).await, first_items, "{name} round trip");
        }
        assert_eq!(datasets::find_version(db, "rice").await.unwrap().1.version, 2, "a bare name is the newest");
        assert!(datasets::find_version(db, "rice@9").await.is_err());
        t.close().await;
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_refuse_escapes_links_duplicates_and_broken_photos_and_resume_cleanly() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = temp(&format!("bad-{}", t.backend));
        let root = root_dir.path();
        let photos = PhotoStore::open(root.join("photos")).unwrap();
        let outside = root.join("outside.png");
        write(&outside, &png(1));

        // Class folders without splits: links, duplicates, junk and broken images.
        let src = root.join("folders");
        write(&src.join("beetle/a.png"), &png(2));
        write(&src.join("beetle/b.png"), &png(3));
        write(&src.join("beetle/copy-of-a.png"), &png(2));
        write(&src.join("beetle/notes.txt"), b"not a photo");
        write(&src.join("beetle/broken.jpg"), b"\xff\xd8\xff\xe0 truncated");
        write(&src.join("moth/c.png"), &png(4));
        write(&src.join("moth/d.png"), &png(5));
        write(&src.join("moth/e.png"), &png(6));
        std::os::unix::fs::symlink(&outside, src.join("moth/link.png")).unwrap();
        std::os::unix::fs::symlink(root.join("photos"), src.join("linked-class")).unwrap();

        let planned = plan(&src).unwrap();
        assert_eq!(planned.layout, Layout::Folders);
        assert_eq!(
            dataset_import::classes(&planned).into_iter().collect::<Vec<_>>(),
            [("beetle".to_string(), 4), ("moth".to_string(), 3)]
        );
        let job = dataset_import::start(db, "field", &src, 3).await.unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let done = dataset_import::run(db, &photos, job.id, |p| seen.lock().unwrap().push(p.done)).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), (1..=7).collect::<Vec<_>>(), "progress after every photo");
        assert_eq!((done.total, done.imported), (7, 5));
        let skipped: Vec<dataset_import::Skipped> = serde_json::from_str(&done.skipped).unwrap();
        let reason =
            |name: &str| skipped.iter().find(|s| s.path.ends_with(name)).map(|s| s.reason.clone()).unwrap_or_default();
        assert!(reason("copy-of-a.png").starts_with("duplicate of"), "{skipped:?}");
        assert!(reason("broken.jpg").starts_with("unreadable image"), "{skipped:?}");
        assert_eq!(reason("notes.txt"), "not an image file");
        assert!(reason("link.png").contains("symbolic link"));
        assert!(reason("linked-class").contains("symbolic link"));
        assert!(
            !photos.contains(&insectid::storage::sha256_hex(&png(1))).await.unwrap(),
            "nothing from outside the tree"
        );
        let version = dataset_version::Entity::find_by_id(done.version_id).one(db).await.unwrap().unwrap();
        assert_eq!((version.items, version.classes, version.state.as_str()), (5, 2, "ready"));
        let split = items(db, version.id).await;

        // Running it again resumes nothing (it is done) and a new import of the same files
        // duplicates no photo, label or item.
        assert!(dataset_import::run(db, &photos, job.id, |_| {}).await.is_err(), "a finished version never changes");
        let again = dataset_import::start(db, "field", &src, 3).await.unwrap();
        assert_ne!(again.id, job.id);
        let redone = dataset_import::run(db, &photos, again.id, |_| {}).await.unwrap();
        assert_eq!(redone.imported, 5);
        assert_eq!(items(db, redone.version_id).await, split, "same files, same seed, same split");

        // An interrupted import (its process died) is found, marked and resumed without duplicates.
        let src2 = root.join("ip102");
        write(&src2.join("classes.txt"), b"1 rice leaf roller\n2 grub\n");
        write(&src2.join("images/1.png"), &png(7));
        write(&src2.join("images/2.png"), &png(8));
        write(&src2.join("train.txt"), b"1.png 0\n2.png 1\n../outside.png 0\n/etc/passwd 1\n3.png 7\nnonsense\n");
        write(&src2.join("val.txt"), b"missing.png 0\n");
        let half = dataset_import::start(db, "ip", &src2, 1).await.unwrap();
        assert_eq!(dataset_import::mark_interrupted(db).await.unwrap(), 1);
        let resumed = dataset_import::start(db, "ip", &src2, 1).await.unwrap();
        assert_eq!(resumed.id, half.id, "the unfinished import of this source is resumed");
        let finished = dataset_import::run(db, &photos, resumed.id, |_| {}).await.unwrap();
        assert_eq!((finished.total, finished.imported), (3, 2));
        let skipped: Vec<dataset_import::Skipped> = serde_json::from_str(&finished.skipped).unwrap();
        let text = format!("{skipped:?}");
        assert!(
            text.contains("../outside.png")
                && text.contains("/etc/passwd")
                && text.contains("leaves the dataset directory"),
            "{text}"
        );
        assert!(
            text.contains("not a class of classes.txt")
                && text.contains("expected `path label`")
                && text.contains("missing.png"),
            "{text}"
        );
        assert!(plan(&root.join("nothing-here")).is_err());
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_breaks_in_labels_never_reach_a_dataset_or_its_export() {
    use insectid::entities::photo_label;
    use sea_orm::{ActiveModelTrait, Set};
    const REFUSED: &str = "the label may not contain line breaks or control characters";
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = temp(&format!("breaks-{}", t.backend));
        let root = root_dir.path();
        let photos = PhotoStore::open(root.join("photos")).unwrap();
        let lara = account(db, "lara", Role::Labeler).await;

        // Class folders: a folder name may hold a line break; its photos are refused, and runs
        // of spaces in a name are one space.
        let src = root.join("folders");
        write(&src.join("moth\n2 beetle/a.png"), &png(20));
        write(&src.join("rice   leaf  roller/b.png"), &png(21));
        let planned = plan(&src).unwrap();
        assert_eq!(dataset_import::classes(&planned).into_keys().collect::<Vec<_>>(), ["rice leaf roller"]);
        assert_eq!(planned.refused.len(), 1, "{:?}", planned.refused);
        assert!(planned.refused[0].reason.contains(REFUSED), "{:?}", planned.refused);

        // IP102: a class name with a control character refuses its photos, the index of the
        // classes after it unchanged.
        let src2 = root.join("ip102");
        write(&src2.join("classes.txt"), b"1 gr\rub\x1b[2J\n2  rice   leaf roller \n");
        write(&src2.join("images/1.png"), &png(22));
        write(&src2.join("images/2.png"), &png(23));
        write(&src2.join("train.txt"), b"1.png 0\n2.png 1\n");
        let planned = plan(&src2).unwrap();
        let labelled: Vec<_> = planned.entries.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labelled, ["rice leaf roller"]);
        assert!(
            planned.refused.iter().any(|s| s.path == "train.txt line 1" && s.reason.contains(REFUSED)),
            "{:?}",
            planned.refused
        );
        let job = dataset_import::start(db, "breaks", &src2, 1).await.unwrap();
        let done = dataset_import::run(db, &photos, job.id, |_| {}).await.unwrap();
        assert_eq!((done.total, done.imported), (1, 1));
        let version = dataset_version::Entity::find_by_id(done.version_id).one(db).await.unwrap().unwrap();
        let labels: Vec<String> = items(db, version.id).await.into_iter().map(|i| i.1).collect();
        assert_eq!(labels, ["rice leaf roller"]);

        // A label decided before labels were cleaned stops a new version rather than enter it.
        let sha = photos.put(&png(24)).await.unwrap();
        photo_label::ActiveModel {
            image_sha256: Set(sha.clone()),
            label: Set("moth\n2 beetle".into()),
            source: Set(insectid::entities::photo_label::LabelSource::Labelers),
            decided_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        let err = datasets::create_from_labels(db, Some(&lara), "old", 1).await.unwrap_err();
        assert_eq!(err.kind(), insectid::error::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(&sha) && err.to_string().contains(REFUSED), "{err}");

        // And a version that holds one (built by an older release) is not exported.
        let set = datasets::ensure_dataset(db, "older", "").await.unwrap();
        let old = datasets::new_version(db, &set, VersionState::Building, "test", 1).await.unwrap();
        dataset_item::ActiveModel {
            version_id: Set(old.id),
            image_sha256: Set(sha.clone()),
            label: Set("moth\n2 beetle".into()),
            split: Set("train".into()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        datasets::finish_version(db, old).await.unwrap();
        for layout in [Layout::Ip102, Layout::Folders] {
            let out = root.join(format!("export-{layout:?}"));
            let err = datasets::export(db, &photos, "older@1", layout, &out).await.unwrap_err();
            assert!(err.to_string().contains("line break"), "{err}");
            assert!(!out.join("classes.txt").exists() && !out.join("train").exists(), "nothing written");
        }
        t.close().await;
    }
}
