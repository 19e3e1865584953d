//! The sea-orm session store against the tower-sessions contract, on both backends.

use std::collections::HashMap;

use insectid::auth::session_store::SeaOrmSessionStore;
use insectid::auth::Role;
use insectid::testing::test_databases;
use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

mod common;
use common::account;

fn record(expires_in: Duration, user_id: Option<i64>) -> Record {
    let mut data = HashMap::new();
    data.insert("greeting".to_string(), serde_json::json!("hello"));
    if let Some(id) = user_id {
        data.insert("axum-login.data".to_string(), serde_json::json!({ "user_id": id, "auth_hash": [1, 2, 3] }));
    }
    Record { id: Id::default(), data, expiry_date: OffsetDateTime::now_utc() + expires_in }
}

#[tokio::test]
async fn sessions_are_created_loaded_saved_expired_and_deleted() {
    for t in test_databases().await {
        let store = SeaOrmSessionStore::new(t.db.clone());
        let sam = account(&t.db, "sam", Role::User).await;
        let mut r = record(Duration::hours(1), Some(sam.id));
        store.create(&mut r).await.unwrap();
        let loaded = store.load(&r.id).await.unwrap().expect("stored");
        assert_eq!(loaded.data, r.data, "{}", t.backend);
        assert_eq!(loaded.expiry_date.unix_timestamp(), r.expiry_date.unix_timestamp());

        // Creating with an id that exists draws a new one instead of overwriting.
        let mut clash = record(Duration::hours(1), None);
        clash.id = r.id;
        store.create(&mut clash).await.unwrap();
        assert_ne!(clash.id, r.id);
        assert_eq!(store.load(&r.id).await.unwrap().unwrap().data, r.data);

        r.data.insert("greeting".into(), serde_json::json!("changed"));
        store.save(&r).await.unwrap();
        assert_eq!(store.load(&r.id).await.unwrap().unwrap().data["greeting"], "changed");

        let mut old = record(Duration::seconds(-5), None);
        store.create(&mut old).await.unwrap();
        assert!(store.load(&old.id).await.unwrap().is_none(), "expired sessions do not load");
        store.delete_expired().await.unwrap();
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(insectid::entities::session::Entity::find().count(&t.db).await.unwrap(), 2);

        store.delete(&r.id).await.unwrap();
        assert!(store.load(&r.id).await.unwrap().is_none());

        // A request still in flight when its account was deleted saves last: nothing comes back.
        let mut gone = record(Duration::hours(1), Some(424_242));
        store.create(&mut gone).await.unwrap();
        store.save(&gone).await.unwrap();
        assert!(store.load(&gone.id).await.unwrap().is_none(), "{}: no session of a deleted account", t.backend);
        t.close().await;
    }
}
