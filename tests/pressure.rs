//! Pest pressure: which sightings count, per week and region; alerts and who sees them
//! (SQLite and PostgreSQL).

mod common;

use chrono::{Duration, Utc};
use common::{account, identified, set_observation};
use insectid::auth::Role;
use insectid::entities::identification::{self, VerdictKind};
use insectid::error::ErrorKind;
use insectid::services::labels;
use insectid::services::pressure::alerts::{self, Subscription};
use insectid::services::pressure::{self, Cell, WEEKS};
use insectid::storage::metadata::PhotoContext;
use insectid::storage::PhotoStore;
use insectid::testing::{test_databases, TempDir};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

fn at(day: chrono::NaiveDate, place: Option<(f64, f64)>) -> PhotoContext {
    PhotoContext {
        taken_at: Some(format!("{day} 10:00:00")),
        latitude: place.map(|p| p.0),
        longitude: place.map(|p| p.1),
    }
}

/// Decided labels here tell every sightings cache in the process to count again: the cache's
/// test must not see the other test's decisions.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn shared_confirmed_sightings_count_per_week_and_region_and_raise_alerts() {
    let _turn = ONE_AT_A_TIME.lock().await;
    for t in test_databases().await {
        let db = &t.db;
        let root = TempDir::new("insectid-pressure");
        let photos = PhotoStore::open(root.path()).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let bob = account(db, "bob", Role::User).await;
        let admin = account(db, "root", Role::Admin).await;
        let today = Utc::now().date_naive();
        let field = Some((48.1, 7.5));
        let (mut seed, owner) = (0u8, ann.id);
        let mut sighting = |label: &'static str, context: PhotoContext, verdict: VerdictKind, shared: bool| {
            seed += 1;
            let (photos, seed) = (&photos, seed);
            async move {
                let (id, sha) = identified(db, photos, owner, seed, label, 0.95).await;
                set_observation(db, id, context, verdict, shared).await;
                sha
            }
        };
        use VerdictKind::{Confident, Uncertain};
        sighting("corn borer", at(today, field), Confident, true).await;
        sighting("corn borer", at(today - Duration::weeks(3), Some((48.2, 7.6))), Confident, true).await;
        sighting("corn borer", at(today, field), Confident, false).await; // not shared
        sighting("corn borer", at(today, field), Uncertain, true).await; // not confirmed
        sighting("corn borer", at(today - Duration::weeks(60), field), Confident, true).await; // too old
        let labelled = sighting("weevil", at(today, None), Uncertain, true).await;
        let corrected = sighting("corn borer", at(today, Some((-33.9, 18.4))), Confident, true).await;
        for sha in [&labelled, &corrected] {
            labels::decide(db, sha, "brown plant hopper", labels::LabelSource::Labelers).await.unwrap();
        }
        // The first photo again, shared a second time: one photo, one sighting.
        let (again, _) = identified(db, &photos, owner, 1, "corn borer", 0.95).await;
        set_observation(db, again, at(today, field), Confident, true).await;
        // Shared without a date: not what its owner shared, so it does not count.
        let (undated, _) = identified(db, &photos, owner, 99, "corn borer", 0.95).await;
        set_observation(db, undated, PhotoContext::default(), Confident, true).await;
        let borer = insectid::catalogue::for_label("corn borer").unwrap().key.clone();
        let hopper = insectid::catalogue::for_label("brown plant hopper").unwrap().key.clone();

        let seen = pressure::sightings(db, today).await.unwrap();
        assert_eq!(seen.len(), 4, "{seen:?}");
        let borer_weeks = pressure::weekly(&seen, Some(&borer), None, today);
        assert_eq!(borer_weeks.len(), WEEKS);
        assert_eq!((borer_weeks[WEEKS - 1], borer_weeks[WEEKS - 4], borer_weeks.iter().sum::<u32>()), (1, 1, 2));
        let home = Cell::parse("48N7E").unwrap();
        assert_eq!(pressure::weekly(&seen, Some(&hopper), Some(home), today).iter().sum::<u32>(), 0);
        let overview = pressure::overview(&seen, None, today);
        let order: Vec<(&str, u32, u32)> =
            overview.iter().map(|p| (p.species_key.as_str(), p.this_week, p.total)).collect();
        assert_eq!(order, vec![(hopper.as_str(), 2, 2), (borer.as_str(), 1, 2)], "busiest this week first");
        assert_eq!(pressure::overview(&seen, Some(home), today).len(), 1, "only the borer was seen there");
        let regions = pressure::regions(&seen, Some(&borer), today);
        assert_eq!(regions.len(), 1);
        assert_eq!((regions[0].cell, regions[0].total, regions[0].recent), (home, 2, 2));
        let csv = pressure::csv(&seen, Some(&hopper));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "week,species_key,species,region,sightings");
        let week = pressure::week_of(today);
        assert!(lines.contains(&format!("{week},{hopper},\"brown plant hopper\",,1").as_str()), "{csv}");
        assert!(lines.contains(&format!("{week},{hopper},\"brown plant hopper\",34S18E,1").as_str()), "{csv}");
        assert_eq!(lines.len(), 3);

        // Alerts: administrators set them; a threshold reached this week is active.
        let refused = alerts::set(db, Some(&bob), &hopper, None, 2).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Forbidden);
        assert_eq!(alerts::set(db, Some(&admin), &hopper, None, 0).await.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(alerts::set(db, Some(&admin), "no-such", None, 2).await.unwrap_err().kind(), ErrorKind::NotFound);
        alerts::set(db, Some(&admin), &hopper, None, 2).await.unwrap();
        alerts::set(db, Some(&admin), &borer, Some(home), 2).await.unwrap();
        let watched = alerts::list(db).await.unwrap();
        assert_eq!(watched.len(), 2);
        let active = alerts::active(&watched, &seen, today);
        assert_eq!(active.iter().map(|a| (&a.alert.species_key, a.this_week)).collect::<Vec<_>>(), vec![(&hopper, 2)]);
        // Setting it again changes the threshold (one alert per species and region).
        alerts::set(db, Some(&admin), &borer, Some(home), 1).await.unwrap();
        let watched = alerts::list(db).await.unwrap();
        assert_eq!(watched.len(), 2);
        assert_eq!(alerts::active(&watched, &seen, today).len(), 2);

        // Only those who asked see them on their next visit.
        assert!(alerts::for_visitor(db, Some(&ann), today).await.unwrap().is_empty());
        let visits = Subscription { on_visit: true, by_email: false };
        assert_eq!(alerts::subscribe(db, None, visits).await.unwrap_err().kind(), ErrorKind::Unauthorized);
        alerts::subscribe(db, Some(&ann), visits).await.unwrap();
        alerts::subscribe(db, Some(&ann), visits).await.unwrap();
        assert!(alerts::is_subscribed(db, Some(&ann)).await.unwrap());
        // E-mail needs an address on the account; asking for it alone hides them on visits.
        let mail_only = Subscription { on_visit: false, by_email: true };
        assert_eq!(alerts::subscribe(db, Some(&ann), mail_only).await.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(alerts::subscription(db, Some(&ann)).await.unwrap(), visits, "a refused change changes nothing");
        let mut row: insectid::entities::user::ActiveModel =
            insectid::entities::user::Entity::find_by_id(ann.id).one(db).await.unwrap().unwrap().into();
        row.email = Set(Some("ann@farm.test".into()));
        row.update(db).await.unwrap();
        alerts::subscribe(db, Some(&ann), mail_only).await.unwrap();
        assert!(alerts::for_visitor(db, Some(&ann), today).await.unwrap().is_empty(), "e-mail only: no banner");
        alerts::subscribe(db, Some(&ann), visits).await.unwrap();
        assert_eq!(alerts::for_visitor(db, Some(&ann), today).await.unwrap().len(), 2);
        assert!(alerts::for_visitor(db, Some(&bob), today).await.unwrap().is_empty());
        assert!(alerts::for_visitor(db, None, today).await.unwrap().is_empty());
        alerts::subscribe(db, Some(&ann), Subscription::default()).await.unwrap();
        assert!(alerts::for_visitor(db, Some(&ann), today).await.unwrap().is_empty());
        assert_eq!(alerts::subscription(db, Some(&ann)).await.unwrap(), Subscription::default());

        let hopper_alert = watched.iter().find(|a| a.species_key == hopper).unwrap().id;
        assert_eq!(alerts::remove(db, Some(&bob), hopper_alert).await.unwrap_err().kind(), ErrorKind::Forbidden);
        alerts::remove(db, Some(&admin), hopper_alert).await.unwrap();
        assert_eq!(alerts::remove(db, Some(&admin), hopper_alert).await.unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(alerts::list(db).await.unwrap().len(), 1);
        t.close().await;
    }
}

#[tokio::test]
async fn counts_are_reused_while_fresh_and_for_the_same_day_only() {
    let _turn = ONE_AT_A_TIME.lock().await;
    for t in test_databases().await {
        let db = &t.db;
        let root = TempDir::new("insectid-pressure-cache");
        let photos = PhotoStore::open(root.path()).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let today = Utc::now().date_naive();
        let share = |seed: u8| {
            let photos = &photos;
            async move {
                let (id, _) = identified(db, photos, ann.id, seed, "corn borer", 0.95).await;
                set_observation(db, id, at(today, Some((48.1, 7.5))), VerdictKind::Confident, true).await;
            }
        };
        share(1).await;
        let cached = pressure::SightingsCache::new(std::time::Duration::from_secs(600));
        let uncached = pressure::SightingsCache::new(std::time::Duration::ZERO);
        assert_eq!(cached.get(db, today).await.unwrap().len(), 1);
        // Written behind the services' back (as another instance would): reused while fresh.
        let (id, _) = identified(db, &photos, ann.id, 2, "corn borer", 0.95).await;
        let mut row: identification::ActiveModel =
            identification::Entity::find_by_id(id).one(db).await.unwrap().unwrap().into();
        row.taken_at = Set(Some(format!("{today} 10:00:00")));
        row.verdict = Set(VerdictKind::Confident);
        row.shared = Set(true);
        row.update(db).await.unwrap();
        assert_eq!(cached.get(db, today).await.unwrap().len(), 1, "reused while fresh");
        assert_eq!(uncached.get(db, today).await.unwrap().len(), 2, "0: counted every time");
        assert_eq!(cached.get(db, today + Duration::days(1)).await.unwrap().len(), 2, "a new day counts again");
        // A change made through the services here counts at once: a label decided.
        let (id, sha) = identified(db, &photos, ann.id, 3, "weevil", 0.4).await;
        set_observation(db, id, at(today, Some((48.1, 7.5))), VerdictKind::Uncertain, true).await;
        labels::decide(db, &sha, "corn borer", labels::LabelSource::Labelers).await.unwrap();
        assert_eq!(cached.get(db, today + Duration::days(1)).await.unwrap().len(), 3, "a share here counts at once");
        t.close().await;
    }
}
