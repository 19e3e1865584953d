//! Foreign keys for every reference between rows, with the deletion behaviour the services
//! implement: a person's sessions, identifications, feedback and label votes go with the
//! account; feedback and shadow predictions go with their identification (and shadow
//! predictions with their model version); a dataset's versions, items and imports go with it;
//! who reviewed a feedback, started a job or acted in the audit trail becomes unknown (NULL)
//! when that account is deleted, and the record stays (the audit row keeps the name).
//!
//! Deliberately without a key:
//! - `image_sha256` (identification, feedback, label_vote, photo_label, dataset_item): photos
//!   are content-addressed objects in the photo store (a file or an S3 object named by its
//!   SHA-256), not rows; `services::integrity` removes one when no row names it any more.
//! - `identification.model_name` / `model_version`, `feedback.model_version`: the name of the
//!   model that answered, kept as history after that version is deleted from the registry.
//! - `login_failure.username`, `ssh_host_key.pinned_by`: names as typed, also of accounts that
//!   do not exist (a throttled guess) or no longer exist.
//!
//! Rows that already broke a reference (left by an older version, e.g. the shadow predictions
//! of a deleted identification) are first removed or unlinked as the key would have done.
//! SQLite cannot add a key to a table, so there each table is rebuilt (its own recipe:
//! <https://www.sqlite.org/lang_altertable.html#otheralter>), parents before their children.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Clone, Copy)]
enum OnDelete {
    Cascade,
    SetNull,
}

/// `table.column` names a row of `parent` (by its `id`).
struct Reference {
    table: &'static str,
    column: &'static str,
    parent: &'static str,
    on_delete: OnDelete,
}

const fn cascade(table: &'static str, column: &'static str, parent: &'static str) -> Reference {
    Reference { table, column, parent, on_delete: OnDelete::Cascade }
}

const fn set_null(table: &'static str, column: &'static str, parent: &'static str) -> Reference {
    Reference { table, column, parent, on_delete: OnDelete::SetNull }
}

/// In rebuild order: a table that is both child and parent (identification, dataset_version)
/// comes before its children, so dropping its old copy deletes nothing through a key.
const REFERENCES: &[Reference] = &[
    cascade("session", "user_id", "user"),
    cascade("identification", "user_id", "user"),
    cascade("feedback", "identification_id", "identification"),
    cascade("feedback", "user_id", "user"),
    set_null("feedback", "reviewed_by", "user"),
    cascade("label_vote", "labeler_id", "user"),
    cascade("dataset_version", "dataset_id", "dataset"),
    cascade("dataset_item", "version_id", "dataset_version"),
    cascade("import_job", "version_id", "dataset_version"),
    set_null("job", "created_by", "user"),
    set_null("audit_event", "actor_id", "user"),
    cascade("shadow_prediction", "identification_id", "identification"),
    cascade("shadow_prediction", "model_version_id", "model_version"),
];

/// The tables that get keys, in `REFERENCES` order, each once.
fn tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = Vec::new();
    for r in REFERENCES {
        if !tables.contains(&r.table) {
            tables.push(r.table);
        }
    }
    tables
}

/// Child columns no index leads with: without one, deleting a parent row scans the child
/// table (an identification's delete would read every shadow prediction).
const CHILD_INDEXES: &[(&str, &str)] = &[
    ("shadow_prediction", "identification_id"),
    ("feedback", "user_id"),
    ("label_vote", "labeler_id"),
    ("job", "created_by"),
    ("audit_event", "actor_id"),
];

fn index_name(table: &str, column: &str) -> String {
    format!("idx_{table}_{column}")
}

fn key_name(r: &Reference) -> String {
    format!("fk_{}_{}", r.table, r.column)
}

impl Reference {
    /// What the key would have done to rows whose parent is already gone.
    fn repair_sql(&self) -> String {
        let Reference { table, column, parent, .. } = self;
        // NOT EXISTS, not NOT IN: PostgreSQL answers it with an anti-join at any table size.
        let broken = format!(
            r#""{column}" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p."id" = "{table}"."{column}")"#
        );
        match self.on_delete {
            OnDelete::Cascade => format!(r#"DELETE FROM "{table}" WHERE {broken}"#),
            OnDelete::SetNull => format!(r#"UPDATE "{table}" SET "{column}" = NULL WHERE {broken}"#),
        }
    }

    fn action(&self) -> ForeignKeyAction {
        match self.on_delete {
            OnDelete::Cascade => ForeignKeyAction::Cascade,
            OnDelete::SetNull => ForeignKeyAction::SetNull,
        }
    }

    /// The clause SQLite's rebuilt table carries.
    fn sqlite_clause(&self) -> String {
        let action = match self.on_delete {
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        };
        format!(r#"FOREIGN KEY ("{}") REFERENCES "{}" ("id") ON DELETE {action}"#, self.column, self.parent)
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or nothing, SQLite's rebuilds included.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for r in REFERENCES {
            db.execute_unprepared(&r.repair_sql()).await?;
        }
        if manager.get_database_backend() == DbBackend::Sqlite {
            for table in tables() {
                let clauses: Vec<String> =
                    REFERENCES.iter().filter(|r| r.table == table).map(Reference::sqlite_clause).collect();
                rebuild_sqlite_table(manager, table, |columns| format!("{columns}, {}", clauses.join(", "))).await?;
            }
            check_sqlite_keys(manager).await?;
        } else {
            for r in REFERENCES {
                manager
                    .create_foreign_key(
                        ForeignKey::create()
                            .name(key_name(r))
                            .from(Alias::new(r.table), Alias::new(r.column))
                            .to(Alias::new(r.parent), Alias::new("id"))
                            .on_delete(r.action())
                            .to_owned(),
                    )
                    .await?;
            }
        }
        for (table, column) in CHILD_INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(index_name(table, column))
                        .table(Alias::new(*table))
                        .col(Alias::new(*column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in CHILD_INDEXES {
            let name = index_name(table, column);
            manager.drop_index(Index::drop().name(name).table(Alias::new(*table)).to_owned()).await?;
        }
        if manager.get_database_backend() == DbBackend::Sqlite {
            // Children first now: their keys go before their parents are rebuilt.
            for table in tables().into_iter().rev() {
                rebuild_sqlite_table(manager, table, |columns| match columns.find(", FOREIGN KEY (") {
                    Some(at) => columns[..at].to_string(),
                    None => columns.to_string(),
                })
                .await?;
            }
            return Ok(());
        }
        for r in REFERENCES.iter().rev() {
            manager
                .drop_foreign_key(ForeignKey::drop().name(key_name(r)).table(Alias::new(r.table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Rebuilds a SQLite table with its column list (the text between the outer parentheses of
/// its `CREATE TABLE`) changed by `edit`, keeping its rows, indexes and id sequence.
async fn rebuild_sqlite_table(
    manager: &SchemaManager<'_>,
    table: &str,
    edit: impl Fn(&str) -> String,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // Dropping a table other tables' keys point at deletes its rows first, cascading to theirs.
    let referenced = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            r#"SELECT COUNT(*) AS n FROM sqlite_master m, pragma_foreign_key_list(m.name) k
               WHERE m.type = 'table' AND k."table" = ?"#,
            [table.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if referenced > 0 {
        return Err(DbErr::Migration(format!("{table} is referenced by a foreign key: rebuild its children first")));
    }
    let create = schema_sql(manager, "table", table).await?;
    let create = create.first().ok_or_else(|| DbErr::Migration(format!("no table {table}")))?;
    let (open, close) = match (create.find('('), create.rfind(')')) {
        (Some(open), Some(close)) if open < close => (open, close),
        _ => return Err(DbErr::Migration(format!("cannot read the definition of {table}: {create}"))),
    };
    let rebuilt = format!(r#"CREATE TABLE "{table}_rebuilt" ({})"#, edit(&create[open + 1..close]));
    let indexes = schema_sql(manager, "index", table).await?;
    let sequence = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT seq FROM sqlite_sequence WHERE name = ?",
            [table.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "seq"))
        .transpose()?;
    db.execute_unprepared(&rebuilt).await?;
    db.execute_unprepared(&format!(r#"INSERT INTO "{table}_rebuilt" SELECT * FROM "{table}""#)).await?;
    db.execute_unprepared(&format!(r#"DROP TABLE "{table}""#)).await?;
    db.execute_unprepared(&format!(r#"ALTER TABLE "{table}_rebuilt" RENAME TO "{table}""#)).await?;
    for index in indexes {
        db.execute_unprepared(&index).await?;
    }
    if let Some(seq) = sequence {
        // Ids of deleted rows are not handed out again (old links must not find new rows),
        // also when the table is empty now and the copy left no sequence row at all.
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?",
            [seq.into(), table.into()],
        ))
        .await?;
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS \
             (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
            [table.into(), seq.into(), table.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The `CREATE` statements SQLite keeps for a table (`kind` "table") or its explicit indexes.
async fn schema_sql(manager: &SchemaManager<'_>, kind: &str, table: &str) -> Result<Vec<String>, DbErr> {
    let rows = manager
        .get_connection()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL",
            [kind.into(), table.into()],
        ))
        .await?;
    rows.iter().map(|row| row.try_get::<String>("", "sql")).collect()
}

/// Fails the migration if any row still breaks a key.
async fn check_sqlite_keys(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let check = Statement::from_string(DbBackend::Sqlite, "PRAGMA foreign_key_check");
    let broken = manager.get_connection().query_all_raw(check).await?;
    if broken.is_empty() {
        Ok(())
    } else {
        Err(DbErr::Migration(format!("{} rows break a foreign key", broken.len())))
    }
}
