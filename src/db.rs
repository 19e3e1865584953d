//! Connecting to the database (SQLite or PostgreSQL, chosen by the URL) and migrating it.

use std::path::Path;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    TransactionTrait,
};

/// Opens the database at `url` and brings its schema up to date.
///
/// For a SQLite file URL the parent directory is created and the file opened in create mode,
/// so the zero-setup default needs nothing from the user.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let url = prepare_sqlite_url(url)?;
    let mut options = ConnectOptions::new(url.clone());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite serialises writers anyway; a small pool avoids "database is locked" storms.
        options.max_connections(4);
        // Write-ahead log: a commit appends to the log and syncs it once, where the default
        // rollback journal syncs the journal and the database (0.2 against 0.9 ms a commit here),
        // and readers never wait for the writer. Synchronous stays FULL, so a committed
        // identification survives a power cut. The log lives beside the file (-wal, -shm).
        // Not for a read-only file (it cannot change mode) nor in memory (no file to log for).
        let wal = !url.contains("mode=ro") && !url.contains(":memory:");
        options.map_sqlx_sqlite_opts(move |o| {
            // The schema's foreign keys (cascades included) hold only where SQLite is told to
            // enforce them, per connection; sqlx does by default, and this says we rely on it.
            let o = o.foreign_keys(true);
            if wal {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
            } else {
                o
            }
        });
    } else {
        // While the database is away (a restart, a failover) requests fail within seconds with
        // a clear error instead of queueing for the pool's default half minute.
        options
            .max_connections(16)
            .connect_timeout(std::time::Duration::from_secs(3))
            .acquire_timeout(std::time::Duration::from_secs(5));
    }
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Begins a transaction that will write. On SQLite a transaction that reads first and writes
/// later cannot wait for another writer: if one committed in between, SQLite fails it at once
/// with "database is locked", whatever the busy timeout (the end-to-end suite's model rollback
/// hit this while labelers were voting). Taking the write lock first makes it wait its turn.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0").await?;
    }
    Ok(txn)
}

fn prepare_sqlite_url(url: &str) -> Result<String, DbErr> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(url.to_string());
    };
    let path_part = rest.trim_start_matches("//");
    let (path, query) = match path_part.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_part, None),
    };
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(parent) = Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", parent.display())))?;
        }
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::prepare_sqlite_url;

    #[test]
    fn sqlite_urls_open_in_create_mode() {
        let dir = std::env::temp_dir().join(format!("insectid-url-{}", std::process::id()));
        let file = dir.join("x.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(url, format!("sqlite://{}?mode=rwc", file.display()));
        assert!(dir.is_dir(), "parent directory is created");
        assert_eq!(prepare_sqlite_url("sqlite::memory:").unwrap(), "sqlite::memory:");
        assert_eq!(prepare_sqlite_url("postgres://u@h/db").unwrap(), "postgres://u@h/db");
        let kept = prepare_sqlite_url(&format!("sqlite://{}?mode=ro", file.display())).unwrap();
        assert!(kept.ends_with("?mode=ro"));
        std::fs::remove_dir_all(dir).ok();
    }
}
