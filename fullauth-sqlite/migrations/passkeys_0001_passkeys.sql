CREATE TABLE fullauth_passkeys (
	id CHAR(32) NOT NULL,
	user_id CHAR(32) NOT NULL,
	credential_id VARCHAR(512) NOT NULL,
	public_key TEXT NOT NULL,
	sign_count INTEGER NOT NULL,
	device_name VARCHAR(200) NOT NULL,
	transports VARCHAR(200) NOT NULL,
	backed_up BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	last_used_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_fullauth_passkeys_credential_id ON fullauth_passkeys (credential_id);
CREATE INDEX ix_fullauth_passkeys_user_id ON fullauth_passkeys (user_id);
