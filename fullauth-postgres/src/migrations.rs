//! The embedded migrations, one or more per feature, append-only.
//!
//! `{s}` in the SQL stands for the quoted schema; the checksum is taken over
//! the text as written here, so it does not depend on the schema. The durable
//! tables are exactly those of fastapi-fullauth 0.18 on PostgreSQL (reference
//! Appendix A): same types, nullability, index and constraint names,
//! `ON DELETE CASCADE` foreign keys, and no column defaults. The short-lived
//! tables are this crate's own, `UNLOGGED` (not crash-safe, not replicated,
//! cheap to write), which suits state that lives for seconds or minutes.

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
	hashed_password TEXT,
	is_active BOOLEAN NOT NULL,
	is_verified BOOLEAN NOT NULL,
	is_superuser BOOLEAN NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);
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
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	revoked BOOLEAN NOT NULL,
	user_agent VARCHAR(512),
	ip_address VARCHAR(45),
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
);
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
);
CREATE UNIQUE INDEX ix_fullauth_roles_name ON {s}.fullauth_roles (name);

CREATE TABLE {s}.fullauth_user_roles (
	user_id UUID NOT NULL,
	role_id UUID NOT NULL,
	PRIMARY KEY (user_id, role_id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE,
	FOREIGN KEY(role_id) REFERENCES {s}.fullauth_roles (id) ON DELETE CASCADE
);
"#,
    )),
    known(Migration::of(
        "permissions_0001_permissions",
        r#"CREATE TABLE {s}.fullauth_permissions (
	id UUID NOT NULL,
	name VARCHAR(200) NOT NULL,
	description VARCHAR(500) NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_permissions_name ON {s}.fullauth_permissions (name);

CREATE TABLE {s}.fullauth_role_permissions (
	role_id UUID NOT NULL,
	permission_id UUID NOT NULL,
	PRIMARY KEY (role_id, permission_id),
	FOREIGN KEY(role_id) REFERENCES {s}.fullauth_roles (id) ON DELETE CASCADE,
	FOREIGN KEY(permission_id) REFERENCES {s}.fullauth_permissions (id) ON DELETE CASCADE
);
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
	access_token TEXT,
	refresh_token TEXT,
	expires_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_oauth_provider_user UNIQUE (provider, provider_user_id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
);
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
	public_key TEXT NOT NULL,
	sign_count INTEGER NOT NULL,
	device_name VARCHAR(200) NOT NULL,
	transports VARCHAR(200) NOT NULL,
	backed_up BOOLEAN NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	last_used_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
);
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
	confirmed_at TIMESTAMP WITH TIME ZONE,
	last_counter INTEGER NOT NULL,
	recovery_codes TEXT NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES {s}.fullauth_users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_fullauth_mfa_user_id ON {s}.fullauth_mfa (user_id);
"#,
    )),
    known(Migration::of(
        "blacklist_0001_blacklist",
        r#"CREATE UNLOGGED TABLE {s}.fullauth_blacklist (
	key TEXT NOT NULL,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (key)
);
CREATE INDEX ix_fullauth_blacklist_expires_at ON {s}.fullauth_blacklist (expires_at);
"#,
    )),
    known(Migration::of(
        "lockout_0001_lockout",
        r#"CREATE UNLOGGED TABLE {s}.fullauth_lockouts (
	key TEXT NOT NULL,
	failures INTEGER NOT NULL,
	last_failure_at TIMESTAMP WITH TIME ZONE NOT NULL,
	locked_until TIMESTAMP WITH TIME ZONE,
	outcome SMALLINT NOT NULL,
	PRIMARY KEY (key)
);
"#,
    )),
    known(Migration::of(
        "rate_limit_0001_windows",
        r#"CREATE UNLOGGED TABLE {s}.fullauth_rate_limits (
	key TEXT NOT NULL,
	hits TIMESTAMP WITH TIME ZONE[] NOT NULL,
	allowed BOOLEAN NOT NULL,
	PRIMARY KEY (key)
);
"#,
    )),
    known(Migration::of(
        "challenges_0001_challenges",
        r#"CREATE UNLOGGED TABLE {s}.fullauth_challenges (
	key TEXT NOT NULL,
	value TEXT NOT NULL,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (key)
);
CREATE INDEX ix_fullauth_challenges_expires_at ON {s}.fullauth_challenges (expires_at);
"#,
    )),
];
