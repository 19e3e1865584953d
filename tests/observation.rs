//! Observations: the date and place an upload brings or its owner sets, who may change them,
//! the history's date and area filters, and the shared photos that illustrate the catalogue
//! (SQLite and PostgreSQL).

mod common;

use common::{account, identified, set_observation};
use insectid::auth::Role;
use insectid::entities::identification::{self, ContextSource, VerdictKind};
use insectid::entities::photo_label::{self, LabelSource};
use insectid::error::ErrorKind;
use insectid::inference::{EngineConfig, InferenceEngine};
use insectid::services::history::{self, HistoryFilter};
use insectid::services::species_photos::{self, Confirmation};
use insectid::services::{identify, observation};
use insectid::storage::metadata::PhotoContext;
use insectid::storage::PhotoStore;
use insectid::testing::{jpeg_with_place, png, test_databases, test_model_dir, TempDir};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

fn context(taken_at: &str, latitude: f64, longitude: f64) -> PhotoContext {
    PhotoContext { taken_at: Some(taken_at.into()), latitude: Some(latitude), longitude: Some(longitude) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_fills_in_what_the_photo_does_not_say_and_only_the_owner_edits() {
    let engine = InferenceEngine::start(&test_model_dir(), EngineConfig { threads: 1, ..Default::default() }).unwrap();
    for t in test_databases().await {
        let db = &t.db;
        let root = TempDir::new("insectid-observation");
        let photos = PhotoStore::open(root.path()).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let bob = account(db, "bob", Role::User).await;
        let admin = account(db, "root", Role::Admin).await;
        let device = context("2026-11-30 10:15:00", 45.5, -73.6);
        let uploader = identify::Uploader { user_id: Some(ann.id), context: device.clone() };
        let plain = png(64, 48, |x, y| [x as u8, y as u8, 90]);
        let from_device =
            identify::identify_and_record(db, &engine, &photos, plain.into(), &uploader, 5).await.unwrap();
        let seen = history::get(db, Some(&ann), from_device.id.unwrap(), None).await.unwrap();
        assert_eq!((seen.context.as_ref(), seen.context_source), (Some(&device), Some(ContextSource::Device)));
        assert!(!seen.shared, "private by default");
        // The photo's own EXIF date and place win over the device's.
        let exif =
            identify::identify_and_record(db, &engine, &photos, jpeg_with_place().into(), &uploader, 5).await.unwrap();
        let seen = history::get(db, Some(&ann), exif.id.unwrap(), None).await.unwrap();
        assert_eq!(seen.context.unwrap().taken_at.as_deref(), Some("2024-06-01 09:12:00"));
        assert_eq!(seen.context_source, Some(ContextSource::Photo));
        let stored = identification::Entity::find_by_id(exif.id.unwrap()).one(db).await.unwrap().unwrap();
        assert_ne!(
            stored.verdict,
            VerdictKind::NoInsect,
            "the verdict column follows the answer: {:?}",
            exif.answer.verdict
        );
        assert_eq!(stored.verdict, VerdictKind::of(&exif.answer.verdict));
        // An anonymous upload keeps nothing, whatever the device says.
        let anonymous = identify::Uploader { user_id: None, context: device.clone() };
        let anon =
            identify::identify_and_record(db, &engine, &photos, png(50, 50, |_, _| [1, 2, 3]).into(), &anonymous, 5)
                .await
                .unwrap();
        let row = identification::Entity::find_by_id(anon.id.unwrap()).one(db).await.unwrap().unwrap();
        assert_eq!((row.taken_at, row.latitude, row.context_source), (None, None, None));

        let id = from_device.id.unwrap();
        let mine = context("2026-06-01 08:00:00", 48.12534, 7.52531);
        let edited = observation::update(db, Some(&ann), id, mine.clone(), true).await.unwrap();
        assert_eq!(
            (edited.context, edited.context_source, edited.shared),
            (Some(mine.clone()), Some(ContextSource::Owner), true)
        );
        let refused = |e: insectid::ServiceError| e.kind();
        assert_eq!(
            refused(observation::update(db, Some(&bob), id, mine.clone(), false).await.unwrap_err()),
            ErrorKind::NotFound
        );
        assert_eq!(
            refused(observation::update(db, Some(&admin), id, mine.clone(), false).await.unwrap_err()),
            ErrorKind::Forbidden
        );
        assert_eq!(
            refused(observation::update(db, None, id, mine.clone(), false).await.unwrap_err()),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            refused(observation::update(db, None, anon.id.unwrap(), mine.clone(), true).await.unwrap_err()),
            ErrorKind::Unauthorized
        );
        let row = identification::Entity::find_by_id(id).one(db).await.unwrap().unwrap();
        assert!(row.shared && row.latitude == Some(48.12534), "the refusals changed nothing");
        // Others never see the exact place, even shared.
        let as_bob = history::get(db, Some(&admin), id, None).await.unwrap();
        assert!(as_bob.context.is_none() && as_bob.context_source.is_none());
        let shared = observation::shared_view(&row).unwrap();
        assert_eq!(shared.taken_on.as_deref(), Some("2026-06-01"));
        let place = shared.place.unwrap();
        assert!((place.latitude - 48.13).abs() < 1e-9 && (place.longitude - 7.53).abs() < 1e-9, "{place:?}");
        // The form sends degrees to 5 decimals: sent back unchanged, the stored place stays as it was.
        let exif_id = exif.id.unwrap();
        let exact = history::get(db, Some(&ann), exif_id, None).await.unwrap().context.unwrap();
        let rounded = PhotoContext {
            latitude: exact.latitude.map(|d| (d * 1e5).round() / 1e5),
            longitude: exact.longitude.map(|d| (d * 1e5).round() / 1e5),
            ..exact.clone()
        };
        let shared_exif = observation::update(db, Some(&ann), exif_id, rounded, true).await.unwrap();
        assert_eq!((shared_exif.context, shared_exif.context_source), (Some(exact), Some(ContextSource::Photo)));
        // Clearing everything leaves no source.
        let cleared = observation::update(db, Some(&ann), id, PhotoContext::default(), false).await.unwrap();
        assert_eq!((cleared.context, cleared.context_source, cleared.shared), (None, None, false));
        t.close().await;
    }
}

#[tokio::test]
async fn history_filters_by_the_day_and_the_area_taken() {
    for t in test_databases().await {
        let db = &t.db;
        let root = TempDir::new("insectid-observation");
        let photos = PhotoStore::open(root.path()).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let places = [
            ("2026-06-01 08:00:00", 48.10, 7.50),   // home
            ("2026-06-20 18:30:00", 48.15, 7.55),   // 6 km away
            ("2026-07-02 07:00:00", 45.50, -73.60), // another continent
            ("2026-06-10 12:00:00", 0.00, 179.99),  // by the date line
        ];
        let mut ids = Vec::new();
        for (i, (taken, lat, lon)) in places.iter().enumerate() {
            let (id, _) = identified(db, &photos, ann.id, i as u8, "corn borer", 0.9).await;
            set_observation(db, id, context(taken, *lat, *lon), VerdictKind::Confident, false).await;
            ids.push(id);
        }
        let (undated, _) = identified(db, &photos, ann.id, 9, "corn borer", 0.9).await;
        let ann = &ann;
        let found = |filter: HistoryFilter| async move {
            let page = history::list(db, Some(ann), &filter, 0, 50).await.unwrap();
            let mut ids: Vec<i64> = page.items.iter().map(|i| i.id).collect();
            ids.sort();
            ids
        };
        let day = |s: &str| observation::parse_day(s).unwrap();
        assert!(found(HistoryFilter::default()).await.contains(&undated), "no filter, every photo");
        let june = HistoryFilter { taken_from: day("2026-06-01"), taken_to: day("2026-06-20"), ..Default::default() };
        assert_eq!(found(june).await, vec![ids[0], ids[1], ids[3]], "both ends of the range count, undated never");
        let near_home = observation::parse_area("48.1", "7.5", "10").unwrap();
        assert_eq!(found(HistoryFilter { near: near_home, ..Default::default() }).await, vec![ids[0], ids[1]]);
        let close = observation::parse_area("48.1", "7.5", "1").unwrap();
        assert_eq!(found(HistoryFilter { near: close, ..Default::default() }).await, vec![ids[0]]);
        let across = observation::parse_area("0", "-179.99", "5").unwrap();
        assert_eq!(found(HistoryFilter { near: across, ..Default::default() }).await, vec![ids[3]], "the square wraps");
        let both = HistoryFilter { taken_from: day("2026-06-15"), near: near_home, ..Default::default() };
        assert_eq!(found(both).await, vec![ids[1]]);
        t.close().await;
    }
}

#[tokio::test]
async fn species_pages_show_shared_confirmed_photos_best_first() {
    for t in test_databases().await {
        let db = &t.db;
        let root = TempDir::new("insectid-observation");
        let photos = PhotoStore::open(root.path()).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let borer = insectid::catalogue::for_label("corn borer").unwrap();
        // Many photos nobody shared, labelled before the shared one (an imported dataset, say),
        // do not crowd it out.
        let imported: Vec<photo_label::ActiveModel> = (0..250)
            .map(|i| photo_label::ActiveModel {
                image_sha256: Set(format!("{i:064x}")),
                label: Set("corn borer".into()),
                source: Set(LabelSource::Import),
                decided_at: Set(chrono::Utc::now()),
                ..Default::default()
            })
            .collect();
        photo_label::Entity::insert_many(imported).exec(db).await.unwrap();
        let somewhere = context("2026-06-01 08:00:00", 48.12534, 7.52531);
        // Confident and shared: shown, surest first.
        let (sure, sure_sha) = identified(db, &photos, ann.id, 1, "corn borer", 0.97).await;
        set_observation(db, sure, somewhere.clone(), VerdictKind::Confident, true).await;
        let (less, less_sha) = identified(db, &photos, ann.id, 2, "Corn Borer", 0.81).await;
        set_observation(db, less, PhotoContext::default(), VerdictKind::Confident, true).await;
        // Not shared, or not confident: not shown.
        let (private, _) = identified(db, &photos, ann.id, 3, "corn borer", 0.99).await;
        set_observation(db, private, somewhere.clone(), VerdictKind::Confident, false).await;
        let (unsure, _) = identified(db, &photos, ann.id, 4, "corn borer", 0.4).await;
        set_observation(db, unsure, somewhere.clone(), VerdictKind::Uncertain, true).await;
        // People decided this confident answer was something else: not shown here.
        let (wrong, wrong_sha) = identified(db, &photos, ann.id, 5, "corn borer", 0.95).await;
        set_observation(db, wrong, somewhere.clone(), VerdictKind::Confident, true).await;
        // People decided this uncertain answer was a corn borer: shown first.
        let (labelled, labelled_sha) = identified(db, &photos, ann.id, 6, "weevil", 0.3).await;
        set_observation(db, labelled, somewhere.clone(), VerdictKind::Uncertain, true).await;
        for (sha, label) in [(&wrong_sha, "brown plant hopper"), (&labelled_sha, "corn borer")] {
            photo_label::ActiveModel {
                image_sha256: Set(sha.clone()),
                label: Set(label.into()),
                source: Set(LabelSource::Labelers),
                decided_at: Set(chrono::Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        }
        let shown = species_photos::of_species(db, borer, 12).await.unwrap();
        let order: Vec<&str> = shown.iter().map(|p| p.image_sha256.as_str()).collect();
        assert_eq!(order, vec![labelled_sha.as_str(), sure_sha.as_str(), less_sha.as_str()]);
        assert_eq!(shown[0].confirmed_by, Confirmation::Label);
        assert_eq!(shown[1].confirmed_by, Confirmation::Answer { probability: 0.97 });
        let place = shown[1].observation.place.unwrap();
        assert!((place.latitude - 48.13).abs() < 1e-9, "coarse: {place:?}");
        assert_eq!(shown[2].observation.place, None);
        assert_eq!(species_photos::of_species(db, borer, 1).await.unwrap().len(), 1, "the limit holds");
        let hopper = insectid::catalogue::for_label("brown plant hopper").unwrap();
        let hopper_photos = species_photos::of_species(db, hopper, 12).await.unwrap();
        assert_eq!(hopper_photos.iter().map(|p| &p.image_sha256).collect::<Vec<_>>(), vec![&wrong_sha]);
        let thumbnails = species_photos::thumbnails(db).await.unwrap();
        assert_eq!(thumbnails.get(&borer.key), Some(&labelled_sha), "a labelled photo first");
        assert_eq!(thumbnails.get(&hopper.key), Some(&wrong_sha));
        assert_eq!(thumbnails.len(), 2, "{thumbnails:?}");
        t.close().await;
    }
}

#[tokio::test]
async fn the_observation_migration_reads_each_answers_kind_and_source() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    for t in test_databases().await {
        let db = &t.db;
        let root = TempDir::new("insectid-observation");
        let photos = PhotoStore::open(root.path()).unwrap();
        common::migrate_down_to_before(db, "m20261203_000011_add_observation_sharing").await;
        let ann = account(db, "ann", Role::User).await;
        let mut rows = Vec::new();
        for (seed, kind) in ["confident", "rolled_up", "uncertain", "no_insect"].into_iter().enumerate() {
            let (id, _) = identified(db, &photos, ann.id, seed as u8, "corn borer", 0.9).await;
            // As serde writes a stored answer: the verdict's tag first, no spaces.
            let answer = format!(
                r#"{{"id":null,"answer":{{"top":[],"verdict":{{"kind":"{kind}","arthropod_probability":0.9}}}}}}"#
            );
            let update = identification::Entity::update_many()
                .col_expr(identification::Column::Answer, Expr::value(answer))
                .filter(identification::Column::Id.eq(id));
            let update = if kind == "rolled_up" {
                update.col_expr(identification::Column::TakenAt, Expr::value("2024-06-01 09:12:00"))
            } else {
                update
            };
            update.exec(db).await.unwrap();
            rows.push(id);
        }
        Migrator::up(db, None).await.unwrap();
        let mut kinds = Vec::new();
        for id in rows {
            let row = identification::Entity::find_by_id(id).one(db).await.unwrap().unwrap();
            assert!(!row.shared, "{}: nothing is shared by a migration", t.backend);
            kinds.push((row.verdict, row.context_source));
        }
        let photo = Some(ContextSource::Photo);
        let expected = [
            (VerdictKind::Confident, None),
            (VerdictKind::RolledUp, photo),
            (VerdictKind::Uncertain, None),
            (VerdictKind::NoInsect, None),
        ];
        assert_eq!(kinds, expected, "{}", t.backend);
        t.close().await;
    }
}
