//! The catalog of fullauth's durable tables in a PostgreSQL schema, to
//! compare a schema fullauth migrated with one made from the reference's DDL
//! (shared by this crate's tests and the CLI's).

use fullauth_postgres::sqlx::{self, PgPool, Row};

const REFERENCE_TABLES: [&str; 10] = [
    "fullauth_users",
    "fullauth_refresh_tokens",
    "fullauth_roles",
    "fullauth_user_roles",
    "fullauth_permissions",
    "fullauth_role_permissions",
    "fullauth_oauth_accounts",
    "fullauth_passkeys",
    "fullauth_mfa",
    "fullauth_users",
];

/// Runs unqualified DDL inside `schema` (created here) on one connection.
pub async fn run_in_schema(pool: &PgPool, schema: &str, ddl: &str) {
    let mut c = pool.acquire().await.expect("connection");
    let sql = format!(
        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\";\n{ddl}\nRESET search_path;"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *c)
        .await
        .expect("reference DDL runs");
}

/// Columns, indexes and constraints of the reference tables in `schema`,
/// with the schema name taken out, sorted.
pub async fn catalog(pool: &PgPool, schema: &str, with_position: bool) -> Vec<String> {
    let tables: Vec<String> = REFERENCE_TABLES.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    for r in sqlx::query(
        "SELECT table_name::text, column_name::text, ordinal_position::int, data_type::text, \
                character_maximum_length::int, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2)",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("columns")
    {
        let pos: i32 = r.get(2);
        out.push(format!(
            "column {}.{} {} {} {:?} nullable={} default={:?}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            if with_position {
                pos.to_string()
            } else {
                String::new()
            },
            r.get::<String, _>(3),
            r.get::<Option<i32>, _>(4),
            r.get::<String, _>(5),
            r.get::<Option<String>, _>(6)
                .map(|d| d.replace(&format!("{schema}."), "")),
        ));
    }
    for r in sqlx::query(
        "SELECT tablename::text, indexname::text, indexdef::text FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = ANY($2)",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("indexes")
    {
        out.push(format!(
            "index {} {} {}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2).replace(&format!("{schema}."), "")
        ));
    }
    for r in sqlx::query(
        "SELECT cl.relname::text, con.conname::text, con.contype::text, pg_get_constraintdef(con.oid) \
         FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = cl.relnamespace \
         WHERE n.nspname = $1 AND cl.relname = ANY($2)",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("constraints")
    {
        out.push(format!(
            "constraint {} {} {} {}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3).replace(&format!("{schema}."), "")
        ));
    }
    for r in sqlx::query(
        "SELECT c.relname::text, c.relpersistence::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind = 'r'",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("tables")
    {
        out.push(format!(
            "table {} persistence={}",
            r.get::<String, _>(0),
            r.get::<String, _>(1)
        ));
    }
    // Sequences (the SERIAL of integer keys): their type and the column
    // that owns them.
    for r in sqlx::query(
        "SELECT seq.relname::text, format_type(ps.seqtypid, NULL), \
                coalesce(tbl.relname::text || '.' || a.attname::text, '-'), \
                coalesce(d.deptype::text, '-') \
         FROM pg_class seq JOIN pg_namespace n ON n.oid = seq.relnamespace \
         JOIN pg_sequence ps ON ps.seqrelid = seq.oid \
         LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = seq.oid \
              AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 \
         LEFT JOIN pg_class tbl ON tbl.oid = d.refobjid \
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE n.nspname = $1 AND seq.relkind = 'S'",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("sequences")
    {
        out.push(format!(
            "sequence {} as {} owned by {} ({})",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3)
        ));
    }
    out.sort();
    out
}
