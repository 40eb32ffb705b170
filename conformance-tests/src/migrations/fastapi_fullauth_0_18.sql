-- The DDL fastapi-fullauth 0.18 emits (SQLAlchemy mixins, SQLAlchemy 2.1,
-- reference Appendix A) in create_all order, with the two types that differ
-- per dialect as placeholders: {uuid} (UUID / CHAR(32)) and {ts}
-- (TIMESTAMP WITH TIME ZONE / DATETIME). Unqualified names.
CREATE TABLE fullauth_permissions (
	id {uuid} NOT NULL,
	name VARCHAR(200) NOT NULL,
	description VARCHAR(500) NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_permissions_name ON fullauth_permissions (name);

CREATE TABLE fullauth_roles (
	id {uuid} NOT NULL,
	name VARCHAR(100) NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_roles_name ON fullauth_roles (name);

CREATE TABLE fullauth_users (
	id {uuid} NOT NULL,
	email VARCHAR(320) NOT NULL,
	hashed_password TEXT,
	is_active BOOLEAN NOT NULL,
	is_verified BOOLEAN NOT NULL,
	is_superuser BOOLEAN NOT NULL,
	created_at {ts} NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_users_email ON fullauth_users (email);

CREATE TABLE fullauth_mfa (
	id {uuid} NOT NULL,
	user_id {uuid} NOT NULL,
	secret VARCHAR(64) NOT NULL,
	confirmed_at {ts},
	last_counter INTEGER NOT NULL,
	recovery_codes TEXT NOT NULL,
	created_at {ts} NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_fullauth_mfa_user_id ON fullauth_mfa (user_id);

CREATE TABLE fullauth_oauth_accounts (
	id {uuid} NOT NULL,
	provider VARCHAR(50) NOT NULL,
	provider_user_id VARCHAR(320) NOT NULL,
	user_id {uuid} NOT NULL,
	provider_email VARCHAR(320),
	access_token TEXT,
	refresh_token TEXT,
	expires_at {ts},
	created_at {ts} NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_oauth_provider_user UNIQUE (provider, provider_user_id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE INDEX ix_fullauth_oauth_accounts_user_id ON fullauth_oauth_accounts (user_id);

CREATE TABLE fullauth_passkeys (
	id {uuid} NOT NULL,
	user_id {uuid} NOT NULL,
	credential_id VARCHAR(512) NOT NULL,
	public_key TEXT NOT NULL,
	sign_count INTEGER NOT NULL,
	device_name VARCHAR(200) NOT NULL,
	transports VARCHAR(200) NOT NULL,
	backed_up BOOLEAN NOT NULL,
	created_at {ts} NOT NULL,
	last_used_at {ts},
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_fullauth_passkeys_credential_id ON fullauth_passkeys (credential_id);
CREATE INDEX ix_fullauth_passkeys_user_id ON fullauth_passkeys (user_id);

CREATE TABLE fullauth_refresh_tokens (
	id {uuid} NOT NULL,
	token VARCHAR(512) NOT NULL,
	user_id {uuid} NOT NULL,
	family_id VARCHAR(36) NOT NULL,
	expires_at {ts} NOT NULL,
	revoked BOOLEAN NOT NULL,
	user_agent VARCHAR(512),
	ip_address VARCHAR(45),
	created_at {ts} NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE INDEX ix_fullauth_refresh_tokens_expires_at ON fullauth_refresh_tokens (expires_at);
CREATE INDEX ix_fullauth_refresh_tokens_family_id ON fullauth_refresh_tokens (family_id);
CREATE UNIQUE INDEX ix_fullauth_refresh_tokens_token ON fullauth_refresh_tokens (token);
CREATE INDEX ix_fullauth_refresh_tokens_user_id ON fullauth_refresh_tokens (user_id);

CREATE TABLE fullauth_role_permissions (
	role_id {uuid} NOT NULL,
	permission_id {uuid} NOT NULL,
	PRIMARY KEY (role_id, permission_id),
	FOREIGN KEY(role_id) REFERENCES fullauth_roles (id) ON DELETE CASCADE,
	FOREIGN KEY(permission_id) REFERENCES fullauth_permissions (id) ON DELETE CASCADE
);

CREATE TABLE fullauth_user_roles (
	user_id {uuid} NOT NULL,
	role_id {uuid} NOT NULL,
	PRIMARY KEY (user_id, role_id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE,
	FOREIGN KEY(role_id) REFERENCES fullauth_roles (id) ON DELETE CASCADE
);
