//! The catalog of fullauth's durable tables in a SQLite file, to compare a
//! database fullauth migrated with one made from the reference's DDL (shared
//! by this crate's tests and the CLI's).

use std::path::Path;

use fullauth_sqlite::rusqlite;

/// The catalog of the reference tables: every object with its table, and
/// every column with its position, declared type, NOT NULL and primary-key
/// position; every index with its columns and uniqueness. Sorted.
pub fn catalog(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'fullauth_%' \
             AND name <> 'fullauth_schema_migrations'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in &tables {
        let mut cols = c
            .prepare("SELECT cid, name, type, \"notnull\", pk FROM pragma_table_info(?1)")
            .unwrap();
        for r in cols
            .query_map([t], |r| {
                Ok(format!(
                    "column {t} #{} {} {} notnull={} pk={}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?
                ))
            })
            .unwrap()
        {
            out.push(r.unwrap());
        }
        let mut idx = c
            .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
            .unwrap();
        let indexes: Vec<(String, i64, String)> = idx
            .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (name, unique, origin) in indexes {
            let cols: Vec<String> = c
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .unwrap()
                .query_map([&name], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            out.push(format!(
                "index {t} {name} unique={unique} origin={origin} ({})",
                cols.join(", ")
            ));
        }
        let mut fks = c
            .prepare(
                "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?1)",
            )
            .unwrap();
        for r in fks
            .query_map([t], |r| {
                Ok(format!(
                    "fk {t}.{} -> {}.{} on delete {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?
                ))
            })
            .unwrap()
        {
            out.push(r.unwrap());
        }
    }
    out.sort();
    out
}
