CREATE TABLE fullauth_oauth_accounts (
	id CHAR(32) NOT NULL,
	provider VARCHAR(50) NOT NULL,
	provider_user_id VARCHAR(320) NOT NULL,
	user_id CHAR(32) NOT NULL,
	provider_email VARCHAR(320),
	access_token TEXT,
	refresh_token TEXT,
	expires_at DATETIME,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_oauth_provider_user UNIQUE (provider, provider_user_id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
