CREATE TABLE fullauth_refresh_tokens (
	id CHAR(32) NOT NULL,
	token VARCHAR(512) NOT NULL,
	user_id CHAR(32) NOT NULL,
	family_id VARCHAR(36) NOT NULL,
	expires_at DATETIME NOT NULL,
	revoked BOOLEAN NOT NULL,
	user_agent VARCHAR(512),
	ip_address VARCHAR(45),
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE INDEX ix_fullauth_refresh_tokens_family_id ON fullauth_refresh_tokens (family_id);
CREATE UNIQUE INDEX ix_fullauth_refresh_tokens_token ON fullauth_refresh_tokens (token);
