//! The embedded migrations, one or more per feature, append-only.
//!
//! `{s}` in the SQL stands for the quoted database; the checksum is taken
//! over the text as written here, so it does not depend on the database. The
//! durable tables are those fastapi-fullauth 0.18's SQLAlchemy models create
//! on MariaDB (`create_all` through aiomysql; the fixture
//! `tests/fixtures/reference_0_18_mariadb.sql`): same names, column order,
//! types, nullability, index names, foreign keys declared in the same order
//! (so MariaDB gives them the same `<table>_ibfk_<n>` names) with
//! `ON DELETE CASCADE`, and no column defaults. Three deliberate
//! differences, all invisible to the Python library:
//!
//! * timestamps are `DATETIME(6)`, not `DATETIME`: MariaDB's plain
//!   `DATETIME` drops the microseconds every fullauth store keeps (and that
//!   order a session's rotations); adopting a database made by Python widens
//!   its columns;
//! * every table is `utf8mb4` with the `utf8mb4_nopad_bin` collation, so
//!   role, permission, provider and token values compare byte for byte
//!   (`Admin` ≠ `admin`, `a` ≠ `a `), as the contract says; the server's
//!   default (`utf8mb4_general_ci`) folds case and ignores trailing spaces;
//! * the free-text columns (`hashed_password`, the OAuth provider tokens,
//!   `public_key`, `recovery_codes`) are `MEDIUMTEXT`, not `TEXT`: MariaDB's
//!   `TEXT` holds 65,535 bytes, the contract's texts up to 1 MiB.
//!
//! The short-lived tables are this crate's own (InnoDB; MariaDB's `MEMORY`
//! engine has no `TEXT`).

use fullauth_api::migrate::Migration;

/// A catalogue entry with its SQL; an id the catalogue does not have fails
/// the build (this runs at compile time).
const fn known(m: Option<Migration>) -> Migration {
    match m {
        Some(m) => m,
        None => panic!("a migration id that is not in fullauth_api::migrate::CATALOG"),
    }
}

/// Every migration, in catalogue order.
pub static MIGRATIONS: [Migration; 13] = [
    known(Migration::of(
        "core_0001_users",
        r#"CREATE TABLE {s}.fullauth_users (
	id UUID NOT NULL,
	email VARCHAR(320) NOT NULL,
	hashed_password MEDIUMTEXT,
	is_active BOOL NOT NULL,
	is_verified BOOL NOT NULL,
	is_superuser BOOL NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
CREATE UNIQUE INDEX ix_fullauth_users_email ON {s}.fullauth_users (email);
"#,
    )),
    known(Migration::of(
        "core_0002_refresh_tokens",
        r#"CREATE TABLE {s}.fullauth_refresh_tokens (
	id UUID NOT NULL,
	token VARCHAR(512) NOT NULL,
	user_id UUID NOT NULL,
	family_id VARCHAR(36) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	revoked BOOL NOT NULL,
	user_agent VARCHAR(512),
	ip_address VARCHAR(45),
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
CREATE INDEX ix_fullauth_refresh_tokens_family_id ON {s}.fullauth_refresh_tokens (family_id);
CREATE UNIQUE INDEX ix_fullauth_refresh_tokens_token ON {s}.fullauth_refresh_tokens (token);
"#,
    )),
    known(Migration::of(
        "core_0003_refresh_token_indexes",
        r#"CREATE INDEX ix_fullauth_refresh_tokens_expires_at ON {s}.fullauth_refresh_tokens (expires_at);
CREATE INDEX ix_fullauth_refresh_tokens_user_id ON {s}.fullauth_refresh_tokens (user_id);
"#,
    )),
    known(Migration::of(
        "roles_0001_roles",
        r#"CREATE TABLE {s}.fullauth_roles (
	id UUID NOT NULL,
	name VARCHAR(100) NOT NULL,
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
CREATE UNIQUE INDEX ix_fullauth_roles_name ON {s}.fullauth_roles (name);

CREATE TABLE {s}.fullauth_user_roles (
	user_id UUID NOT NULL,
	role_id UUID NOT NULL,
	PRIMARY KEY (user_id, role_id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE,
	FOREIGN KEY(role_id) REFERENCES {s}.fullauth_roles (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
    known(Migration::of(
        "permissions_0001_permissions",
        r#"CREATE TABLE {s}.fullauth_permissions (
	id UUID NOT NULL,
	name VARCHAR(200) NOT NULL,
	description VARCHAR(500) NOT NULL,
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
CREATE UNIQUE INDEX ix_fullauth_permissions_name ON {s}.fullauth_permissions (name);

CREATE TABLE {s}.fullauth_role_permissions (
	role_id UUID NOT NULL,
	permission_id UUID NOT NULL,
	PRIMARY KEY (role_id, permission_id),
	FOREIGN KEY(role_id) REFERENCES {s}.fullauth_roles (id) ON DELETE CASCADE,
	FOREIGN KEY(permission_id) REFERENCES {s}.fullauth_permissions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
    known(Migration::of(
        "oauth_0001_accounts",
        r#"CREATE TABLE {s}.fullauth_oauth_accounts (
	id UUID NOT NULL,
	provider VARCHAR(50) NOT NULL,
	provider_user_id VARCHAR(320) NOT NULL,
	user_id UUID NOT NULL,
	provider_email VARCHAR(320),
	access_token MEDIUMTEXT,
	refresh_token MEDIUMTEXT,
	expires_at DATETIME(6),
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_oauth_provider_user UNIQUE (provider, provider_user_id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
    known(Migration::of(
        "oauth_0002_user_index",
        r#"CREATE INDEX ix_fullauth_oauth_accounts_user_id ON {s}.fullauth_oauth_accounts (user_id);
"#,
    )),
    known(Migration::of(
        "passkeys_0001_passkeys",
        r#"CREATE TABLE {s}.fullauth_passkeys (
	id UUID NOT NULL,
	user_id UUID NOT NULL,
	credential_id VARCHAR(512) NOT NULL,
	public_key MEDIUMTEXT NOT NULL,
	sign_count INTEGER NOT NULL,
	device_name VARCHAR(200) NOT NULL,
	transports VARCHAR(200) NOT NULL,
	backed_up BOOL NOT NULL,
	created_at DATETIME(6) NOT NULL,
	last_used_at DATETIME(6),
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
CREATE UNIQUE INDEX ix_fullauth_passkeys_credential_id ON {s}.fullauth_passkeys (credential_id);
CREATE INDEX ix_fullauth_passkeys_user_id ON {s}.fullauth_passkeys (user_id);
"#,
    )),
    known(Migration::of(
        "mfa_0001_factors",
        r#"CREATE TABLE {s}.fullauth_mfa (
	id UUID NOT NULL,
	user_id UUID NOT NULL,
	secret VARCHAR(64) NOT NULL,
	confirmed_at DATETIME(6),
	last_counter INTEGER NOT NULL,
	recovery_codes MEDIUMTEXT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
CREATE UNIQUE INDEX ix_fullauth_mfa_user_id ON {s}.fullauth_mfa (user_id);
"#,
    )),
    known(Migration::of(
        "blacklist_0001_blacklist",
        r#"CREATE TABLE {s}.fullauth_blacklist (
	state_key VARCHAR(512) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	PRIMARY KEY (state_key),
	INDEX ix_fullauth_blacklist_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
    known(Migration::of(
        "lockout_0001_lockout",
        r#"CREATE TABLE {s}.fullauth_lockouts (
	state_key VARCHAR(512) NOT NULL,
	failures INTEGER NOT NULL,
	last_failure_at DATETIME(6) NOT NULL,
	locked_until DATETIME(6),
	outcome SMALLINT NOT NULL,
	PRIMARY KEY (state_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
    known(Migration::of(
        "rate_limit_0001_windows",
        r#"CREATE TABLE {s}.fullauth_rate_limits (
	state_key VARCHAR(512) NOT NULL,
	hits MEDIUMTEXT NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (state_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
    known(Migration::of(
        "challenges_0001_challenges",
        r#"CREATE TABLE {s}.fullauth_challenges (
	state_key VARCHAR(512) NOT NULL,
	value MEDIUMTEXT NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	PRIMARY KEY (state_key),
	INDEX ix_fullauth_challenges_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
"#,
    )),
];
