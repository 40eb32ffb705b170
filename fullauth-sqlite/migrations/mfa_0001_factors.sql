CREATE TABLE fullauth_mfa (
	id CHAR(32) NOT NULL,
	user_id CHAR(32) NOT NULL,
	secret VARCHAR(64) NOT NULL,
	confirmed_at DATETIME,
	last_counter INTEGER NOT NULL,
	recovery_codes TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_fullauth_mfa_user_id ON fullauth_mfa (user_id);
