-- fullauth addition (not in fastapi-fullauth): sliding-window rate limits,
-- one row per allowed request.
CREATE TABLE fullauth_rate_limit (
	id INTEGER NOT NULL,
	state_key VARCHAR(512) NOT NULL,
	hit_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fullauth_rate_limit_state_key_hit_at ON fullauth_rate_limit (state_key, hit_at);
CREATE INDEX ix_fullauth_rate_limit_expires_at ON fullauth_rate_limit (expires_at);
