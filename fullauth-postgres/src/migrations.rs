//! The embedded migrations, one or more per feature, append-only.
//!
//! `{s}` in the SQL stands for the quoted schema; the checksum is taken over
//! the text as written here, so it does not depend on the schema. The durable
//! tables are exactly those of fastapi-fullauth 0.18 on PostgreSQL (reference
//! Appendix A): same types, nullability, index and constraint names,
//! `ON DELETE CASCADE` foreign keys, and no column defaults. The short-lived
//! tables are this crate's own, `UNLOGGED` (not crash-safe, not replicated,
//! cheap to write), which suits state that lives for seconds or minutes.

use fullauth_api::Feature;
use fullauth_api::migrate::Migration;

/// Every migration, in the order they apply.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        id: "0001_core",
        feature: Feature::Core,
        description: "users and refresh tokens (fastapi-fullauth 0.18 schema)",
        sql: r#"CREATE TABLE {s}.fullauth_users (
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

CREATE TABLE {s}.fullauth_refresh_tokens (
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
CREATE INDEX ix_fullauth_refresh_tokens_expires_at ON {s}.fullauth_refresh_tokens (expires_at);
CREATE INDEX ix_fullauth_refresh_tokens_family_id ON {s}.fullauth_refresh_tokens (family_id);
CREATE UNIQUE INDEX ix_fullauth_refresh_tokens_token ON {s}.fullauth_refresh_tokens (token);
CREATE INDEX ix_fullauth_refresh_tokens_user_id ON {s}.fullauth_refresh_tokens (user_id);
"#,
    },
    Migration {
        id: "0002_roles",
        feature: Feature::Roles,
        description: "roles and user-role links",
        sql: r#"CREATE TABLE {s}.fullauth_roles (
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
    },
    Migration {
        id: "0003_permissions",
        feature: Feature::Permissions,
        description: "permissions and role-permission grants",
        sql: r#"CREATE TABLE {s}.fullauth_permissions (
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
    },
    Migration {
        id: "0004_oauth",
        feature: Feature::OAuth,
        description: "OAuth account links",
        sql: r#"CREATE TABLE {s}.fullauth_oauth_accounts (
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
CREATE INDEX ix_fullauth_oauth_accounts_user_id ON {s}.fullauth_oauth_accounts (user_id);
"#,
    },
    Migration {
        id: "0005_passkeys",
        feature: Feature::Passkeys,
        description: "WebAuthn passkeys",
        sql: r#"CREATE TABLE {s}.fullauth_passkeys (
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
    },
    Migration {
        id: "0006_mfa",
        feature: Feature::Mfa,
        description: "TOTP factors and recovery codes",
        sql: r#"CREATE TABLE {s}.fullauth_mfa (
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
    },
    Migration {
        id: "0007_blacklist",
        feature: Feature::Blacklist,
        description: "token blacklist (UNLOGGED)",
        sql: r#"CREATE UNLOGGED TABLE {s}.fullauth_blacklist (
	key TEXT NOT NULL,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (key)
);
CREATE INDEX ix_fullauth_blacklist_expires_at ON {s}.fullauth_blacklist (expires_at);
"#,
    },
    Migration {
        id: "0008_lockout",
        feature: Feature::Lockout,
        description: "login lockout counters (UNLOGGED)",
        sql: r#"CREATE UNLOGGED TABLE {s}.fullauth_lockouts (
	key TEXT NOT NULL,
	failures INTEGER NOT NULL,
	last_failure_at TIMESTAMP WITH TIME ZONE NOT NULL,
	locked_until TIMESTAMP WITH TIME ZONE,
	outcome SMALLINT NOT NULL,
	PRIMARY KEY (key)
);
"#,
    },
    Migration {
        id: "0009_rate_limit",
        feature: Feature::RateLimit,
        description: "sliding-window rate limits (UNLOGGED)",
        sql: r#"CREATE UNLOGGED TABLE {s}.fullauth_rate_limits (
	key TEXT NOT NULL,
	hits TIMESTAMP WITH TIME ZONE[] NOT NULL,
	allowed BOOLEAN NOT NULL,
	PRIMARY KEY (key)
);
"#,
    },
    Migration {
        id: "0010_challenges",
        feature: Feature::Challenges,
        description: "one-time challenges (UNLOGGED)",
        sql: r#"CREATE UNLOGGED TABLE {s}.fullauth_challenges (
	key TEXT NOT NULL,
	value TEXT NOT NULL,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (key)
);
CREATE INDEX ix_fullauth_challenges_expires_at ON {s}.fullauth_challenges (expires_at);
"#,
    },
];
