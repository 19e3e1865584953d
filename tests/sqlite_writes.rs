//! On SQLite a transaction that will write takes the write lock first, so it waits for other
//! writers instead of failing with "database is locked".

use insectid::db::begin_write;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

async fn rows(db: &impl ConnectionTrait) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM scratch"))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn another_writer(db: &DatabaseConnection, n: i32) -> tokio::task::JoinHandle<Result<(), sea_orm::DbErr>> {
    let db = db.clone();
    tokio::spawn(async move { db.execute_unprepared(&format!("INSERT INTO scratch VALUES ({n})")).await.map(|_| ()) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_transaction_that_reads_first_waits_for_another_writer() {
    let t = insectid::testing::sqlite_database().await;
    let db = &t.db;
    db.execute_unprepared("CREATE TABLE scratch (n INTEGER)").await.unwrap();

    // What begin_write prevents: a plain transaction reads, another writer commits meanwhile,
    // and the transaction can no longer write.
    let plain = db.begin().await.unwrap();
    assert_eq!(rows(&plain).await, 0);
    let other = another_writer(db, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let refused = plain.execute_unprepared("INSERT INTO scratch VALUES (2)").await;
    plain.rollback().await.ok();
    let other = other.await.unwrap();
    assert!(
        refused.as_ref().is_err_and(|e| e.to_string().contains("locked"))
            || other.as_ref().is_err_and(|e| e.to_string().contains("locked")),
        "one of the two writers fails: {refused:?} / {other:?}"
    );

    // With begin_write the other writer waits its turn, and both land.
    let before = rows(db).await;
    let txn = begin_write(db).await.unwrap();
    assert_eq!(rows(&txn).await, before);
    let other = another_writer(db, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    txn.execute_unprepared("INSERT INTO scratch VALUES (4)").await.unwrap();
    txn.commit().await.unwrap();
    other.await.unwrap().unwrap();
    assert_eq!(rows(db).await, before + 2);
    t.close().await;
}
