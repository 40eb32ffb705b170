//! Databases as fastapi-fullauth made them, in either dialect.

use super::Dialect;

const TEMPLATE: &str = include_str!("fastapi_fullauth_0_18.sql");

/// A database made by fastapi-fullauth (Alembic or `create_all`), by the
/// release whose DDL it has. Each is derived from the 0.18 DDL by the
/// changes the reference's history lists (§1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FastapiFullauth {
    /// 0.18 with the SQLAlchemy mixins: every durable table.
    V0_18,
    /// 0.18 with the SQLModel mixins: `fullauth_passkeys.transports` is a
    /// `VARCHAR` without a length (`VARCHAR(255)` on MariaDB, which needs
    /// one: [`Dialect::sqlmodel_varchar`]).
    V0_18SqlModel,
    /// 0.17: no `fullauth_mfa`.
    V0_17,
    /// 0.16: no `fullauth_mfa`, none of the three 0.17 indexes.
    V0_16,
    /// 0.15: the same DDL as 0.16.
    V0_15,
    /// 0.14 (SQLAlchemy): as 0.15 with `fullauth_passkeys.credential_id`
    /// still `TEXT`.
    V0_14,
    /// 0.14 (SQLModel): as 0.14 with `transports VARCHAR` and foreign keys
    /// without `ON DELETE CASCADE` (SQLModel added them in 0.15).
    V0_14SqlModel,
    /// A database that went through old releases: the refresh tokens of
    /// 0.13 (no `user_agent` / `ip_address`), the OAuth table of before 0.8
    /// (no `uq_oauth_provider_user`), a passkeys foreign key without
    /// `ON DELETE CASCADE`, no 0.17 indexes, no `fullauth_mfa`.
    Legacy,
}

impl FastapiFullauth {
    /// Every fixture.
    pub const ALL: [FastapiFullauth; 8] = [
        FastapiFullauth::V0_18,
        FastapiFullauth::V0_18SqlModel,
        FastapiFullauth::V0_17,
        FastapiFullauth::V0_16,
        FastapiFullauth::V0_15,
        FastapiFullauth::V0_14,
        FastapiFullauth::V0_14SqlModel,
        FastapiFullauth::Legacy,
    ];

    /// The DDL in `dialect`, unqualified (run it in the database or schema
    /// under test).
    pub fn ddl(self, dialect: Dialect) -> String {
        use FastapiFullauth::*;
        let mut sql = dialect.fill(TEMPLATE);
        if matches!(self, V0_17 | V0_16 | V0_15 | V0_14 | V0_14SqlModel | Legacy) {
            sql = drop_block(
                &sql,
                "CREATE TABLE fullauth_mfa (",
                "ix_fullauth_mfa_user_id",
            );
        }
        if matches!(self, V0_16 | V0_15 | V0_14 | V0_14SqlModel | Legacy) {
            sql = drop_lines(
                &sql,
                &[
                    "ix_fullauth_refresh_tokens_user_id",
                    "ix_fullauth_refresh_tokens_expires_at",
                    "ix_fullauth_oauth_accounts_user_id",
                ],
            );
        }
        if matches!(self, V0_14 | V0_14SqlModel) {
            sql = sql.replace(
                "credential_id VARCHAR(512) NOT NULL",
                "credential_id TEXT NOT NULL",
            );
        }
        if matches!(self, V0_18SqlModel | V0_14SqlModel) {
            sql = sql.replace(
                "transports VARCHAR(200) NOT NULL",
                &format!("transports {} NOT NULL", dialect.sqlmodel_varchar()),
            );
        }
        if self == V0_14SqlModel {
            sql = sql.replace(" ON DELETE CASCADE", "");
        }
        if self == Legacy {
            sql = drop_lines(
                &sql,
                &[
                    "user_agent VARCHAR",
                    "ip_address VARCHAR",
                    "CONSTRAINT uq_oauth_provider_user",
                ],
            );
            sql = sql.replace(
                "FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE\n);\n\
                 CREATE UNIQUE INDEX ix_fullauth_passkeys_credential_id",
                "FOREIGN KEY(user_id) REFERENCES fullauth_users (id)\n);\n\
                 CREATE UNIQUE INDEX ix_fullauth_passkeys_credential_id",
            );
        }
        sql
    }

    /// The 0.18 DDL with application columns on `fullauth_users`, as an app
    /// that subclasses the user mixin has them: `display_name VARCHAR(100)
    /// NOT NULL DEFAULT ''` (the reference's conformance fixture), `plan
    /// VARCHAR(20) NOT NULL` (no default) and `nickname TEXT`.
    pub fn with_app_columns(dialect: Dialect) -> String {
        FastapiFullauth::V0_18.ddl(dialect).replace(
            "CREATE TABLE fullauth_users (\n\tid",
            "CREATE TABLE fullauth_users (\n\tdisplay_name VARCHAR(100) NOT NULL DEFAULT '',\n\t\
             plan VARCHAR(20) NOT NULL,\n\tnickname TEXT,\n\tid",
        )
    }

    /// The 0.18 DDL with integer user ids (fastapi-fullauth 0.16's pluggable
    /// ids with `Mapped[int]`).
    pub fn with_integer_user_ids(dialect: Dialect) -> String {
        let uuid = dialect.fill("{uuid}");
        FastapiFullauth::V0_18
            .ddl(dialect)
            .replace(
                &format!("CREATE TABLE fullauth_users (\n\tid {uuid} NOT NULL"),
                "CREATE TABLE fullauth_users (\n\tid INTEGER NOT NULL",
            )
            .replace(
                &format!("user_id {uuid} NOT NULL"),
                "user_id INTEGER NOT NULL",
            )
    }

    /// The 0.18 DDL with refresh tokens lacking the NOT NULL `revoked`
    /// column (a hand-made table adopt cannot complete).
    pub fn without_revoked(dialect: Dialect) -> String {
        drop_lines(&FastapiFullauth::V0_18.ddl(dialect), &["revoked BOOLEAN"])
    }
}

fn drop_lines(sql: &str, needles: &[&str]) -> String {
    let mut out: String = sql
        .lines()
        .filter(|l| !needles.iter().any(|n| l.contains(n)))
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out
}

/// Drops the lines from the one containing `start` to the one containing
/// `end`, both included.
fn drop_block(sql: &str, start: &str, end: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for l in sql.lines() {
        if l.contains(start) {
            skipping = true;
        }
        if !skipping {
            out.push(l);
        }
        if skipping && l.contains(end) {
            skipping = false;
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_differ_as_the_history_says() {
        let d = Dialect::Sqlite;
        let v18 = FastapiFullauth::V0_18.ddl(d);
        assert!(v18.contains("CREATE TABLE fullauth_mfa") && v18.contains("CHAR(32)"));
        assert!(!FastapiFullauth::V0_17.ddl(d).contains("fullauth_mfa"));
        let v16 = FastapiFullauth::V0_16.ddl(d);
        assert!(!v16.contains("ix_fullauth_refresh_tokens_user_id"));
        assert!(v16.contains("ix_fullauth_refresh_tokens_family_id"));
        assert!(v16.contains("CREATE TABLE fullauth_user_roles"));
        assert!(
            FastapiFullauth::V0_14
                .ddl(d)
                .contains("credential_id TEXT NOT NULL")
        );
        let sm = FastapiFullauth::V0_14SqlModel.ddl(Dialect::Postgres);
        assert!(!sm.contains("CASCADE") && sm.contains("transports VARCHAR NOT NULL"));
        assert!(sm.contains("TIMESTAMP WITH TIME ZONE"));
        let legacy = FastapiFullauth::Legacy.ddl(d);
        assert!(!legacy.contains("user_agent") && !legacy.contains("uq_oauth_provider_user"));
        assert_eq!(
            legacy.matches("ON DELETE CASCADE").count(),
            v16.matches("ON DELETE CASCADE").count() - 1
        );
        assert!(
            FastapiFullauth::with_app_columns(d)
                .contains("plan VARCHAR(20) NOT NULL,\n\tnickname TEXT,\n\tid CHAR(32)")
        );
        assert!(FastapiFullauth::with_integer_user_ids(d).contains("user_id INTEGER NOT NULL"));
        assert!(!FastapiFullauth::without_revoked(d).contains("revoked"));
        let maria = FastapiFullauth::V0_14SqlModel.ddl(Dialect::MariaDb);
        assert!(maria.contains("transports VARCHAR(255) NOT NULL"));
        assert!(
            maria.contains("id UUID NOT NULL") && maria.contains("created_at DATETIME NOT NULL")
        );
    }
}
