CREATE TABLE fullauth_permissions (
	id CHAR(32) NOT NULL,
	name VARCHAR(200) NOT NULL,
	description VARCHAR(500) NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_permissions_name ON fullauth_permissions (name);
CREATE TABLE fullauth_role_permissions (
	role_id CHAR(32) NOT NULL,
	permission_id CHAR(32) NOT NULL,
	PRIMARY KEY (role_id, permission_id),
	FOREIGN KEY(role_id) REFERENCES fullauth_roles (id) ON DELETE CASCADE,
	FOREIGN KEY(permission_id) REFERENCES fullauth_permissions (id) ON DELETE CASCADE
);
