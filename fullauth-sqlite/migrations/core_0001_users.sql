CREATE TABLE fullauth_users (
	id CHAR(32) NOT NULL,
	email VARCHAR(320) NOT NULL,
	hashed_password TEXT,
	is_active BOOLEAN NOT NULL,
	is_verified BOOLEAN NOT NULL,
	is_superuser BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_users_email ON fullauth_users (email);
