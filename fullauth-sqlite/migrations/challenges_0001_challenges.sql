-- fullauth addition (not in fastapi-fullauth): one-time challenges.
CREATE TABLE fullauth_challenges (
	state_key VARCHAR(512) NOT NULL,
	value TEXT NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (state_key)
);
CREATE INDEX ix_fullauth_challenges_expires_at ON fullauth_challenges (expires_at);
