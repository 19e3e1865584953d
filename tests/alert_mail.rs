//! Pest alerts by e-mail through a real SMTP server (aiosmtpd): only to addresses confirmed by
//! a mailed link, once a week per alert however many instances send, in the reader's language,
//! with a link that stops them; a relay that is down loses nothing, a refused address is not
//! retried, a relay refusing everyone is not taken for bad addresses, a crashed sender's claim
//! is taken over (SQLite and PostgreSQL).

mod common;

use std::time::Duration as Wait;

use chrono::{Duration, NaiveDate, Utc};
use common::{account, identified, set_observation};
use insectid::auth::{Account, AccountStatus, Role};
use insectid::entities::identification::VerdictKind;
use insectid::entities::{pest_alert_notice, pest_alert_subscriber, user};
use insectid::error::ErrorKind;
use insectid::mail::Mailer;
use insectid::services::pressure::alerts::{self, Subscription};
use insectid::services::pressure::mail::{send_due, Round};
use insectid::services::pressure::mail_address::{self, MailState};
use insectid::services::pressure::{week_of, Cell, SightingsCache};
use insectid::storage::metadata::PhotoContext;
use insectid::storage::PhotoStore;
use insectid::testing::smtp::{unused_port, Received, SmtpRelay};
use insectid::testing::{test_databases, TempDir};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

const FROM: &str = "Insect Identifier <alerts@portal.test>";
const PUBLIC: &str = "https://insects.example.org";

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

/// Asked for alerts by e-mail at an address the relay cannot take, as if confirmed (an address
/// changed behind the form's back).
async fn undeliverable(db: &DatabaseConnection, who: &Account, address: &str) {
    set_user(db, who.id, address, "en", AccountStatus::Active).await;
    let mut row: pest_alert_subscriber::ActiveModel =
        pest_alert_subscriber::Entity::find_by_id(who.id).one(db).await.unwrap().unwrap().into();
    row.mail_to = Set(Some(address.into()));
    row.stop_token = Set(Some(format!("{:064x}", who.id)));
    row.update(db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_mailed_once_a_week_to_confirmed_addresses() {
    let Some(relay) = SmtpRelay::start() else { return };
    for (n, t) in test_databases().await.into_iter().enumerate() {
        let db = &t.db;
        // Each backend's people have addresses of their own, to tell their mail apart.
        let farm = format!("farm{n}.test");
        let address = |name: &str| format!("{name}@{farm}");
        let mail_to = |name: &str, at_least: usize| {
            let to = address(name);
            relay.wait_for_matching(at_least, Wait::from_secs(10), move |m| m.to == to)
        };
        let root = TempDir::new("insectid-alert-mail");
        let photos = PhotoStore::open(root.path()).unwrap();
        let counts = SightingsCache::new(std::time::Duration::ZERO);
        let today = Utc::now().date_naive();
        let mailer = Mailer::new(&relay.url(), FROM).unwrap();
        let admin = account(db, "root", Role::Admin).await;
        let mut people = Vec::new();
        for name in ["ann", "bob", "cat", "dan", "mei", "eve"] {
            let who = account(db, name, Role::User).await;
            set_user(db, who.id, &address(name), if name == "mei" { "zh" } else { "en" }, AccountStatus::Active).await;
            people.push(who);
        }
        let [ann, bob, cat, dan, mei, eve] = <[Account; 6]>::try_from(people).unwrap();
        let both = Subscription { on_visit: true, by_email: true };

        // Asking for e-mail mails a confirmation link; asking again soon sends no second one.
        for who in [&ann, &cat, &dan, &mei, &eve] {
            alerts::subscribe(db, Some(who), both).await.unwrap();
        }
        alerts::subscribe(db, Some(&bob), Subscription { on_visit: true, by_email: false }).await.unwrap();
        for who in [&ann, &cat, &mei, &eve] {
            let state = mail_address::request_confirmation(db, &mailer, PUBLIC, Some(who)).await.unwrap();
            assert_eq!(state, MailState::Waiting(address(&who.username)));
        }
        mail_address::request_confirmation(db, &mailer, PUBLIC, Some(&ann)).await.unwrap();
        let asked = mail_to("ann", 1);
        assert_eq!(asked.len(), 1, "one confirmation message: {asked:#?}");
        assert_eq!(asked[0].subject, "Confirm pest alerts by e-mail");
        let token = asked[0].token().expect("a link with its secret");
        assert!(asked[0].body.contains(&format!("{PUBLIC}/alerts/confirm?token={token}")), "{}", asked[0].body);
        assert_eq!(mail_address::confirmation_address(db, &token).await.unwrap(), address("ann"));
        assert_eq!(mail_address::confirm(db, &token).await.unwrap(), address("ann"));
        assert_eq!(mail_address::confirm(db, &token).await.unwrap_err().kind(), ErrorKind::NotFound, "used up");
        assert_eq!(mail_address::state(db, Some(&ann)).await.unwrap(), MailState::Confirmed(address("ann")));
        let wrong = "0".repeat(64);
        assert_eq!(mail_address::confirm(db, &wrong).await.unwrap_err().kind(), ErrorKind::NotFound);
        for who in ["cat", "mei"] {
            let token = mail_to(who, 1)[0].token().unwrap();
            mail_address::confirm(db, &token).await.unwrap();
        }
        let to_mei = &mail_to("mei", 1)[0];
        assert_eq!(to_mei.subject, "请确认接收虫情预警邮件", "in her language");
        // Eve never follows her link; Cat's account is then disabled; Dan's address is one the
        // relay cannot take.
        set_user(db, cat.id, &address("cat"), "en", AccountStatus::Disabled).await;
        undeliverable(db, &dan, "dan at farm").await;

        let borer = insectid::catalogue::for_label("corn borer").unwrap();
        let hopper = insectid::catalogue::for_label("brown plant hopper").unwrap();
        alerts::set(db, Some(&admin), &borer.key, Some(Cell::parse("48N7E").unwrap()), 2).await.unwrap();
        alerts::set(db, Some(&admin), &hopper.key, None, 1).await.unwrap(); // never reached
        assert_eq!(send_due(db, &mailer, PUBLIC, &counts, today).await.unwrap(), Round::default(), "none reached");
        two_borers(db, &photos, ann.id, today, 1).await;

        // The relay is down: nothing is lost, nothing is marked.
        let down = Mailer::new(&format!("smtp://127.0.0.1:{}", unused_port()), FROM).unwrap();
        let round = send_due(db, &down, PUBLIC, &counts, today).await.unwrap();
        assert_eq!((round.sent, round.deferred), (0, 3), "Ann, Dan, Mei: {round:?}");
        assert!(round.relay_error.is_some());
        assert!(pest_alert_notice::Entity::find().all(db).await.unwrap().is_empty(), "claims released");

        // Two instances send at once: each person's alert goes out once.
        let rounds = [mailer.clone(), Mailer::new(&relay.url(), FROM).unwrap()].map(|m| {
            let db = db.clone();
            tokio::spawn(async move {
                send_due(&db, &m, PUBLIC, &SightingsCache::new(std::time::Duration::ZERO), today).await.unwrap()
            })
        });
        let [a, b] = rounds;
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!((a.sent + b.sent, a.refused + b.refused), (2, 1), "{a:?} {b:?}");
        // Alerts (not confirmations) to someone: waiting for `n`, or as they stand now.
        let is_alert = |m: &Received| m.subject.starts_with("Pest alert") || m.subject.starts_with("虫情预警：");
        let alert =
            |name: &str, n: usize| -> Vec<Received> { mail_to(name, n + 1).into_iter().filter(is_alert).collect() };
        let no_alert = |name: &str| !relay.received().iter().any(|m| m.to == address(name) && is_alert(m));
        let to_ann = alert("ann", 1);
        assert_eq!(to_ann.len(), 1, "{to_ann:#?}");
        let to_ann = &to_ann[0];
        assert_eq!(to_ann.from, FROM);
        assert_eq!(to_ann.subject, format!("Pest alert: {} in 48–49°N, 7–8°E", borer.name_en));
        assert!(to_ann.body.starts_with("Hello ann,"), "greeted by username: {}", to_ann.body);
        let line = format!(
            "- {} ({}), 48–49°N, 7–8°E: 2 sightings this week, alert at 2\n  {PUBLIC}/pressure/{}?region=48N7E",
            borer.name_en, borer.scientific, borer.key
        );
        assert!(to_ann.body.contains(&line), "{}", to_ann.body);
        let stop = to_ann.token().expect("a stop link");
        assert!(to_ann.body.contains(&format!("{PUBLIC}/alerts/stop?token={stop}")));
        assert_eq!(to_ann.list_unsubscribe, format!("<{PUBLIC}/alerts/stop?token={stop}>"));
        let to_mei = alert("mei", 1);
        assert_eq!(to_mei[0].subject, format!("虫情预警：{}（48–49°N, 7–8°E）", borer.name_zh));
        assert!(to_mei[0].body.contains("本周 2 次，阈值 2"), "{}", to_mei[0].body);
        for who in ["eve", "cat", "bob"] {
            assert!(no_alert(who), "{who} gets no alert");
        }
        let dans = notices(db, dan.id).await;
        assert!(dans.len() == 1 && dans[0].refused.is_some() && dans[0].sent_at.is_none(), "{dans:?}");

        // Again this week: nothing new (Dan's refusal is not retried).
        assert_eq!(send_due(db, &mailer, PUBLIC, &counts, today).await.unwrap(), Round::default());

        // An instance died between claiming Ann's notice and sending it: a fresh claim is left
        // alone, a stale one is taken over.
        let mut claim: pest_alert_notice::ActiveModel = notices(db, ann.id).await.remove(0).into();
        claim.sent_at = Set(None);
        claim.claimed_at = Set(Utc::now() - Duration::minutes(5));
        let claim = claim.update(db).await.unwrap();
        assert_eq!(send_due(db, &mailer, PUBLIC, &counts, today).await.unwrap().sent, 0);
        let mut stale: pest_alert_notice::ActiveModel = claim.into();
        stale.claimed_at = Set(Utc::now() - Duration::minutes(11));
        stale.update(db).await.unwrap();
        assert_eq!(send_due(db, &mailer, PUBLIC, &counts, today).await.unwrap().sent, 1);
        assert_eq!(alert("ann", 2).len(), 2);

        // Next week the count passes the threshold again: a new notice. Ann followed her stop
        // link meanwhile; Cat is back with another address (not the one she confirmed).
        mail_address::stop(db, &stop).await.unwrap();
        assert_eq!(mail_address::state(db, Some(&ann)).await.unwrap(), MailState::Off);
        assert!(alerts::is_subscribed(db, Some(&ann)).await.unwrap(), "her visits are left as they were");
        set_user(db, cat.id, &address("cat2"), "en", AccountStatus::Active).await;
        let next = today + Duration::weeks(1);
        two_borers(db, &photos, ann.id, next, 10).await;
        let round = send_due(db, &mailer, PUBLIC, &counts, next).await.unwrap();
        assert_eq!((round.sent, round.refused), (1, 1), "Mei, and Dan's new week tried once: {round:?}");
        assert_eq!(alert("ann", 2).len(), 2, "nothing more for Ann");
        assert!(no_alert("cat2") && no_alert("cat"));
        let next_week = format!("（{} 起）", week_of(next));
        assert!(alert("mei", 2).iter().any(|m| m.body.contains(&next_week)), "Mei's second alert");

        // A relay that refuses everyone (a wrong sender, say) is not taken for bad addresses:
        // after three refusals in a row the round stops and nothing is marked.
        let mut strays = Vec::new();
        for name in ["xs1", "xs2", "xs3"] {
            let who = account(db, name, Role::User).await;
            alerts::subscribe(db, Some(&who), both).await.unwrap_err(); // no address yet
            set_user(db, who.id, &address(name), "en", AccountStatus::Active).await;
            alerts::subscribe(db, Some(&who), both).await.unwrap();
            undeliverable(db, &who, &format!("{name} at farm")).await;
            strays.push(who.id);
        }
        let later = today + Duration::weeks(2);
        two_borers(db, &photos, ann.id, later, 20).await;
        let round = send_due(db, &mailer, PUBLIC, &counts, later).await.unwrap();
        assert_eq!((round.sent, round.refused, round.deferred), (1, 1, 3), "{round:?}");
        assert!(round.relay_error.unwrap().contains("refused 3 recipients in a row"));
        for id in strays {
            assert!(notices(db, id).await.is_empty(), "released for the next round");
        }
        t.close().await;
    }
}

async fn notices(db: &DatabaseConnection, user_id: i64) -> Vec<pest_alert_notice::Model> {
    pest_alert_notice::Entity::find().filter(pest_alert_notice::Column::UserId.eq(user_id)).all(db).await.unwrap()
}
