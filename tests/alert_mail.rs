//! Pest alerts by e-mail through a real SMTP server (aiosmtpd): who gets them, once a week per
//! alert however many instances send, in the reader's language; a relay that is down loses
//! nothing, a refused address is not retried, a crashed sender's claim is taken over
//! (SQLite and PostgreSQL).

mod common;

use chrono::{Duration, NaiveDate, Utc};
use common::{account, identified, set_observation};
use insectid::auth::{AccountStatus, Role};
use insectid::entities::identification::VerdictKind;
use insectid::entities::{pest_alert_notice, user};
use insectid::mail::Mailer;
use insectid::services::pressure::alerts::{self, Subscription};
use insectid::services::pressure::mail::{send_due, Round};
use insectid::services::pressure::{week_of, Cell};
use insectid::storage::metadata::PhotoContext;
use insectid::storage::PhotoStore;
use insectid::testing::smtp::{unused_port, SmtpRelay};
use insectid::testing::{test_databases, TempDir};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

const FROM: &str = "Insect Identifier <alerts@portal.test>";
const PUBLIC: Option<&str> = Some("https://insects.example.org");

async fn set_user(db: &DatabaseConnection, id: i64, email: &str, language: &str, status: AccountStatus) {
    let mut row: user::ActiveModel = user::Entity::find_by_id(id).one(db).await.unwrap().unwrap().into();
    row.email = Set(Some(email.into()));
    row.language = Set(language.into());
    row.status = Set(status);
    row.update(db).await.unwrap();
}

/// Two shared, confident corn-borer sightings in the cell 48N7E on `day`.
async fn two_borers(db: &DatabaseConnection, photos: &PhotoStore, owner: i64, day: NaiveDate, seed: u8) {
    for s in [seed, seed + 1] {
        let (id, _) = identified(db, photos, owner, s, "corn borer", 0.95).await;
        let context =
            PhotoContext { taken_at: Some(format!("{day} 09:00:00")), latitude: Some(48.1), longitude: Some(7.5) };
        set_observation(db, id, context, VerdictKind::Confident, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_mailed_once_a_week_to_those_who_asked() {
    let Some(relay) = SmtpRelay::start() else { return };
    for (n, t) in test_databases().await.into_iter().enumerate() {
        let db = &t.db;
        // Each backend's people have addresses of their own, to tell their mail apart.
        let farm = format!("farm{n}.test");
        let address = |name: &str| format!("{name}@{farm}");
        let mine = |within: u64, at_least: usize| {
            relay.wait_for_matching(at_least, std::time::Duration::from_secs(within), |m| m.to.ends_with(&farm))
        };
        let root = TempDir::new("insectid-alert-mail");
        let photos = PhotoStore::open(root.path()).unwrap();
        let today = Utc::now().date_naive();
        let admin = account(db, "root", Role::Admin).await;
        let [ann, bob, cat, dan, mei] = [
            account(db, "ann", Role::User).await,
            account(db, "bob", Role::User).await,
            account(db, "cat", Role::User).await,
            account(db, "dan", Role::User).await,
            account(db, "mei", Role::User).await,
        ];
        let both = Subscription { on_visit: true, by_email: true };
        for (who, name, language) in
            [(&ann, "ann", "en"), (&bob, "bob", "en"), (&cat, "cat", "en"), (&dan, "dan", "en"), (&mei, "mei", "zh")]
        {
            set_user(db, who.id, &address(name), language, AccountStatus::Active).await;
        }
        for who in [&ann, &cat, &dan, &mei] {
            alerts::subscribe(db, Some(who), both).await.unwrap();
        }
        // Bob sees alerts on his visits only; Cat's account is disabled; Dan's address is
        // one the relay cannot take (changed behind the form's back).
        alerts::subscribe(db, Some(&bob), Subscription { on_visit: true, by_email: false }).await.unwrap();
        set_user(db, cat.id, &address("cat"), "en", AccountStatus::Disabled).await;
        set_user(db, dan.id, "dan at farm", "en", AccountStatus::Active).await;

        let borer = insectid::catalogue::for_label("corn borer").unwrap();
        let hopper = insectid::catalogue::for_label("brown plant hopper").unwrap();
        let home = Cell::parse("48N7E").unwrap();
        alerts::set(db, Some(&admin), &borer.key, Some(home), 2).await.unwrap();
        alerts::set(db, Some(&admin), &hopper.key, None, 1).await.unwrap(); // never reached
        let relay_mailer = Mailer::new(&relay.url(), FROM).unwrap();

        // Nothing reached yet: nothing sent.
        assert_eq!(send_due(db, &relay_mailer, PUBLIC, today).await.unwrap(), Round::default());
        two_borers(db, &photos, ann.id, today, 1).await;

        // The relay is down: nothing is lost, nothing is marked.
        let down = Mailer::new(&format!("smtp://127.0.0.1:{}", unused_port()), FROM).unwrap();
        let round = send_due(db, &down, PUBLIC, today).await.unwrap();
        assert_eq!((round.sent, round.deferred), (0, 3), "{round:?}");
        assert!(round.relay_error.is_some());
        assert!(pest_alert_notice::Entity::find().all(db).await.unwrap().is_empty(), "claims released");

        // Two instances send at once: each person's alert goes out once.
        let other = Mailer::new(&relay.url(), FROM).unwrap();
        let (a, b) = tokio::join!(send_due(db, &relay_mailer, PUBLIC, today), send_due(db, &other, PUBLIC, today));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.sent + b.sent, a.refused + b.refused), (2, 1), "{a:?} {b:?}");
        let mail = mine(10, 2);
        assert_eq!(mail.len(), 2, "{mail:#?}");
        let to_ann = mail.iter().find(|m| m.to == address("ann")).expect("Ann's alert");
        assert_eq!(to_ann.from, FROM);
        assert_eq!(to_ann.subject, format!("Pest alert: {} in 48–49°N, 7–8°E", borer.name_en));
        assert!(to_ann.body.starts_with("Hello ann,"), "{}", to_ann.body);
        assert!(
            to_ann.body.contains(&format!(
                "- {} ({}), 48–49°N, 7–8°E: 2 sightings this week, alert at 2\n  https://insects.example.org/pressure/{}?region=48N7E",
                borer.name_en, borer.scientific, borer.key
            )),
            "{}",
            to_ann.body
        );
        assert!(to_ann.body.contains("https://insects.example.org/pressure#alert-subscription"));
        let to_mei = mail.iter().find(|m| m.to == address("mei")).expect("Mei's alert");
        assert_eq!(to_mei.subject, format!("虫情预警：{}（48–49°N, 7–8°E）", borer.name_zh));
        assert!(to_mei.body.contains("本周 2 次，阈值 2"), "{}", to_mei.body);
        let dans: Vec<_> = pest_alert_notice::Entity::find()
            .filter(pest_alert_notice::Column::UserId.eq(dan.id))
            .all(db)
            .await
            .unwrap();
        assert!(dans.len() == 1 && dans[0].refused.is_some() && dans[0].sent_at.is_none(), "{dans:?}");

        // Again this week: nothing new (Dan's refusal is not retried).
        assert_eq!(send_due(db, &relay_mailer, PUBLIC, today).await.unwrap(), Round::default());

        // An instance died between claiming Ann's notice and sending it: a fresh claim is
        // left alone, a stale one is taken over.
        let week = week_of(today);
        let ann_notice = pest_alert_notice::Entity::find()
            .filter(pest_alert_notice::Column::UserId.eq(ann.id))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut claim: pest_alert_notice::ActiveModel = ann_notice.into();
        claim.sent_at = Set(None);
        claim.claimed_at = Set(Utc::now() - Duration::minutes(5));
        let claim = claim.update(db).await.unwrap();
        assert_eq!(send_due(db, &relay_mailer, PUBLIC, today).await.unwrap().sent, 0);
        let mut stale: pest_alert_notice::ActiveModel = claim.into();
        stale.claimed_at = Set(Utc::now() - Duration::minutes(11));
        stale.update(db).await.unwrap();
        assert_eq!(send_due(db, &relay_mailer, PUBLIC, today).await.unwrap().sent, 1);
        assert_eq!(mine(10, 3).iter().filter(|m| m.to == address("ann")).count(), 2);

        // Next week's count passes the threshold again: a new notice for the new week; Ann
        // stopped asking for e-mail meanwhile.
        let next = today + Duration::weeks(1);
        two_borers(db, &photos, ann.id, next, 10).await;
        alerts::subscribe(db, Some(&ann), Subscription { on_visit: true, by_email: false }).await.unwrap();
        let round = send_due(db, &relay_mailer, None, next).await.unwrap();
        assert_eq!((round.sent, round.refused), (1, 1), "Mei, and Dan's new week is tried once: {round:?}");
        let last = mine(10, 4);
        assert_eq!(last.len(), 4, "{last:#?}");
        let next_week = format!("（{} 起）", week_of(next));
        assert_ne!(week_of(next), week);
        let to_mei = last.iter().find(|m| m.to == address("mei") && m.body.contains(&next_week)).expect("Mei's second");
        assert!(!to_mei.body.contains("https://"), "no links without INSECTID_PUBLIC_URL: {}", to_mei.body);
        t.close().await;
    }
}
