-- fullauth addition (not in fastapi-fullauth): the token blacklist.
CREATE TABLE fullauth_blacklist (
	state_key VARCHAR(512) NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (state_key)
);
CREATE INDEX ix_fullauth_blacklist_expires_at ON fullauth_blacklist (expires_at);
