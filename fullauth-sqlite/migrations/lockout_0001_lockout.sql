-- fullauth addition (not in fastapi-fullauth): login lockout counters.
-- expires_at: when the row is forgotten (count reset or lock lifted).
CREATE TABLE fullauth_lockout (
	state_key VARCHAR(512) NOT NULL,
	attempts INTEGER NOT NULL,
	locked_until DATETIME,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (state_key)
);
CREATE INDEX ix_fullauth_lockout_expires_at ON fullauth_lockout (expires_at);
