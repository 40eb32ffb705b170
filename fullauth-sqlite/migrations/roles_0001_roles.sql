CREATE TABLE fullauth_roles (
	id CHAR(32) NOT NULL,
	name VARCHAR(100) NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_roles_name ON fullauth_roles (name);
CREATE TABLE fullauth_user_roles (
	user_id CHAR(32) NOT NULL,
	role_id CHAR(32) NOT NULL,
	PRIMARY KEY (user_id, role_id),
	FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE,
	FOREIGN KEY(role_id) REFERENCES fullauth_roles (id) ON DELETE CASCADE
);
