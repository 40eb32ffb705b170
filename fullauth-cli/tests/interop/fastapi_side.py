"""The Python side of the interoperability tests: fastapi-fullauth 0.18's
SQLAlchemy adapter and models, used the way its documentation shows.

Usage (prints one JSON object on stdout):

    fastapi_side.py create     DB_URL [--schema S]   direction 1: create_all + data
    fastapi_side.py rotation   DB_URL [--schema S] --old RAW --new RAW
                                                     direction 1: see our rotation
    fastapi_side.py use-ours   DB_URL [--schema S]   direction 2: write into our schema
    fastapi_side.py check-password DB_URL [--schema S] --email E --password P
                                                     whether the library verifies P
    fastapi_side.py ddl        DB_URL                the CREATE TABLE / CREATE INDEX
                                                     statements of the models for
                                                     DB_URL's dialect ({"ddl": ...});
                                                     connects to nothing

Every command also takes --user-id-type uuid|int|text (default uuid): the key
type of the users, as an app following the documentation's "Choosing a primary
key type" declares it (UserSchema, UserSchema[int] or UserSchema[str], with
`id` overridden on the user model and `user_id` on every model referencing a
user). User ids in the JSON output are always str(id): "1" for int keys.

DB_URL is a SQLAlchemy async URL (sqlite+aiosqlite:///PATH,
postgresql+asyncpg://USER@HOST:PORT/DB or mysql+aiomysql://USER@HOST:PORT/DB);
on PostgreSQL the tables live in schema S (the connection's search_path); on
MariaDB the "schema" is the database the URL names (--schema is ignored: the
test creates the database). For ddl only the URL's dialect matters: nothing
is connected to, so what depends on the server's version is rendered as for
an unknown server (a mysql:// URL compiles as MySQL, a mariadb:// one as
MariaDB of unknown version).
"""

import argparse
import asyncio
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

from sqlalchemy import ForeignKey, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.schema import CreateIndex, CreateTable

from fastapi_fullauth.adapters.sqlalchemy import SQLAlchemyAdapter
from fastapi_fullauth.core.crypto import hash_password, hash_refresh_token, verify_password
from fastapi_fullauth.models.sqlalchemy import (
    MFAMixin,
    OAuthAccountMixin,
    PasskeyMixin,
    PermissionMixin,
    RefreshTokenMixin,
    RoleMixin,
    RolePermissionMixin,
    UserMixin,
    UserRoleMixin,
)
from fastapi_fullauth.types import (
    CreateUserSchema,
    MFACredential,
    OAuthAccount as OAuthAccountSchema,
    PasskeyCredential,
    RefreshToken as RefreshTokenSchema,
    UserSchema,
)


# UUID keys, the library's default: the mixins as they are.


class Base(DeclarativeBase):
    pass


class Role(RoleMixin, Base):
    pass


class UserRole(UserRoleMixin, Base):
    pass


class Permission(PermissionMixin, Base):
    pass


class RolePermission(RolePermissionMixin, Base):
    pass


class RefreshToken(RefreshTokenMixin, Base):
    pass


class User(UserMixin, Base):
    roles: Mapped[list[Role]] = relationship(secondary="fullauth_user_roles", lazy="selectin")


class OAuthAccount(OAuthAccountMixin, Base):
    pass


class Passkey(PasskeyMixin, Base):
    pass


class MFA(MFAMixin, Base):
    pass


@dataclass(frozen=True)
class Models:
    """One declarative base with its models, and the user schema to match."""

    base: type[DeclarativeBase]
    user: type
    refresh_token: type
    role: type
    user_role: type
    permission: type
    role_permission: type
    oauth_account: type
    passkey: type
    mfa: type
    user_schema: type[UserSchema]


UUID_MODELS = Models(
    base=Base,
    user=User,
    refresh_token=RefreshToken,
    role=Role,
    user_role=UserRole,
    permission=Permission,
    role_permission=RolePermission,
    oauth_account=OAuthAccount,
    passkey=Passkey,
    mfa=MFA,
    user_schema=UserSchema,
)


def keyed_models(key_type: type) -> Models:
    """The models of an app with int or str user keys, on a base of their own.

    As "Choosing a primary key type" shows: `id` is overridden on the user
    model and `user_id` on every model that references a user. Each `user_id`
    override repeats the mixin's own declaration (ForeignKey, nullable, index,
    unique, primary_key) with only the type changed. The documentation's
    snippets write just `ForeignKey(...), index=True` (the non-optional
    Mapped[...] makes the column NOT NULL all the same); the MFA mixin also
    declares `unique=True`, kept here, so fullauth_mfa.user_id keeps its
    unique index. With `Mapped[int]` the column is INTEGER (SERIAL for the
    user key on PostgreSQL), with `Mapped[str]` a VARCHAR without a length,
    which MySQL and MariaDB refuse ("VARCHAR requires a length"): text keys
    work on SQLite and PostgreSQL only.

    Note that SQLAlchemy puts a subclass's own columns before the mixin's, so
    an overridden `user_id` becomes the first column of its table.
    """
    # int keys come from the database (SERIAL on PostgreSQL, the rowid on
    # SQLite). str keys have no default anywhere: the column has none, and the
    # adapter's create_user drops an `id` given in the create schema (it is one
    # of the privileged fields only the library sets). So the model supplies
    # one on the Python side, as such an app has to: a UUIDv4 in hex. This is a
    # client-side default only; it does not appear in the DDL.
    id_options = {"default": lambda: uuid.uuid4().hex} if key_type is str else {}

    class KeyedBase(DeclarativeBase):
        pass

    class Role(RoleMixin, KeyedBase):
        pass

    class UserRole(UserRoleMixin, KeyedBase):
        user_id: Mapped[key_type] = mapped_column(
            ForeignKey("fullauth_users.id", ondelete="CASCADE"), primary_key=True
        )

    class Permission(PermissionMixin, KeyedBase):
        pass

    class RolePermission(RolePermissionMixin, KeyedBase):
        pass

    class RefreshToken(RefreshTokenMixin, KeyedBase):
        user_id: Mapped[key_type] = mapped_column(
            ForeignKey("fullauth_users.id", ondelete="CASCADE"), nullable=False, index=True
        )

    class User(UserMixin, KeyedBase):
        id: Mapped[key_type] = mapped_column(primary_key=True, **id_options)
        roles: Mapped[list[Role]] = relationship(secondary="fullauth_user_roles", lazy="selectin")

    class OAuthAccount(OAuthAccountMixin, KeyedBase):
        user_id: Mapped[key_type] = mapped_column(
            ForeignKey("fullauth_users.id", ondelete="CASCADE"), nullable=False, index=True
        )

    class Passkey(PasskeyMixin, KeyedBase):
        # The passkey's own primary key stays a UUID: the library generates it.
        user_id: Mapped[key_type] = mapped_column(
            ForeignKey("fullauth_users.id", ondelete="CASCADE"), index=True, nullable=False
        )

    class MFA(MFAMixin, KeyedBase):
        user_id: Mapped[key_type] = mapped_column(
            ForeignKey("fullauth_users.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
            index=True,
        )

    return Models(
        base=KeyedBase,
        user=User,
        refresh_token=RefreshToken,
        role=Role,
        user_role=UserRole,
        permission=Permission,
        role_permission=RolePermission,
        oauth_account=OAuthAccount,
        passkey=Passkey,
        mfa=MFA,
        user_schema=UserSchema[key_type],
    )


USER_ID_TYPES = ("uuid", "int", "text")


@cache
def models_for(user_id_type: str) -> Models:
    """The models for --user-id-type: built once, on first use."""
    if user_id_type == "uuid":
        return UUID_MODELS
    if user_id_type == "int":
        return keyed_models(int)
    if user_id_type == "text":
        return keyed_models(str)
    raise ValueError(f"unknown user id type {user_id_type!r}")


def engine_for(url: str, schema: str | None):
    if url.startswith("postgresql"):
        return create_async_engine(
            url, connect_args={"server_settings": {"search_path": schema or "public"}}
        )
    if url.startswith("mysql"):
        # The database is the URL's; utf8mb4 as the app would connect.
        return create_async_engine(url, connect_args={"charset": "utf8mb4"})
    return create_async_engine(url)


def adapter_for(engine, models: Models = UUID_MODELS) -> SQLAlchemyAdapter:
    # The adapter checks at construction that the schema's key type, the user
    # model's and every related model's user_id agree.
    return SQLAlchemyAdapter(
        async_sessionmaker(engine, expire_on_commit=False),
        user_model=models.user,
        refresh_token_model=models.refresh_token,
        role_model=models.role,
        user_role_model=models.user_role,
        permission_model=models.permission,
        role_permission_model=models.role_permission,
        oauth_account_model=models.oauth_account,
        passkey_model=models.passkey,
        mfa_model=models.mfa,
        user_schema=models.user_schema,
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


async def create(url: str, schema: str | None, models: Models) -> dict:
    """Direction 1: the library creates the tables and every kind of row."""
    engine = engine_for(url, schema)
    async with engine.begin() as conn:
        if schema and url.startswith("postgresql"):
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(models.base.metadata.create_all)
    adapter = adapter_for(engine, models)

    password = "py-Secret-pass 1"
    user = await adapter.create_user(
        CreateUserSchema(email="Py.User@Example.com", password=password),
        hashed_password=hash_password(password),
    )
    await adapter.set_user_verified(user.id)

    family = uuid.uuid4().hex
    refresh_raw = "py-refresh-jwt-" + uuid.uuid4().hex
    expires = now() + timedelta(days=30)
    await adapter.store_refresh_token(
        RefreshTokenSchema(
            token=hash_refresh_token(refresh_raw),
            user_id=user.id,
            expires_at=expires,
            family_id=family,
            user_agent="Mozilla/5.0 (X11; Linux) py-interop",
            ip_address="203.0.113.9",
        )
    )

    await adapter.assign_role(user.id, "editor")
    await adapter.assign_permission_to_role("editor", "posts:write")

    await adapter.create_oauth_account(
        OAuthAccountSchema(
            provider="github",
            provider_user_id="gh-4242",
            user_id=user.id,
            provider_email="py.user@example.com",
            access_token="gho_access",
            refresh_token=None,
            expires_at=expires,
        )
    )

    passkey_id = uuid.uuid4()
    await adapter.store_passkey(
        PasskeyCredential(
            id=passkey_id,
            user_id=user.id,
            credential_id="cred-" + uuid.uuid4().hex,
            public_key="pQECAyYgASFYIPublicKey",
            sign_count=7,
            device_name="YubiKey 5",
            transports=["usb", "nfc"],
            backed_up=True,
        )
    )
    passkeys = await adapter.get_user_passkeys(user.id)

    codes = [hash_refresh_token(f"code-{i}") for i in range(10)]
    await adapter.store_mfa(MFACredential(user_id=user.id, secret="JBSWY3DPEHPK3PXP"))
    await adapter.confirm_mfa(user.id, codes)

    await engine.dispose()
    return {
        "user_id": str(user.id),
        "email": user.email,
        "password": password,
        "family_id": family,
        "refresh_raw": refresh_raw,
        "user_agent": "Mozilla/5.0 (X11; Linux) py-interop",
        "ip_address": "203.0.113.9",
        "credential_id": passkeys[0].credential_id,
        "passkey_id": str(passkey_id),
        "recovery_codes": codes,
    }


async def rotation(url: str, schema: str | None, models: Models, old: str, new: str) -> dict:
    """Direction 1, end: what the library sees after our rotation."""
    engine = engine_for(url, schema)
    adapter = adapter_for(engine, models)
    old_row = await adapter.get_refresh_token(hash_refresh_token(old))
    new_row = await adapter.get_refresh_token(hash_refresh_token(new))
    sessions = await adapter.list_user_sessions(old_row.user_id) if old_row else []
    await engine.dispose()
    return {
        "old_revoked": old_row.revoked if old_row else None,
        "old_family": old_row.family_id if old_row else None,
        "new_revoked": new_row.revoked if new_row else None,
        "new_family": new_row.family_id if new_row else None,
        "new_user_agent": new_row.user_agent if new_row else None,
        "new_expires_in_future": bool(new_row and new_row.expires_at.replace(tzinfo=new_row.expires_at.tzinfo or timezone.utc) > now()),
        "sessions": [s.family_id for s in sessions],
    }


async def use_ours(url: str, schema: str | None, models: Models) -> dict:
    """Direction 2: the library on tables our migrations created."""
    engine = engine_for(url, schema)
    adapter = adapter_for(engine, models)
    password = "two-way Pass 2"
    user = await adapter.create_user(
        CreateUserSchema(email="second@example.com", password=password),
        hashed_password=hash_password(password),
    )
    family = uuid.uuid4().hex
    live_raw, revoked_raw = "py-live-" + uuid.uuid4().hex, "py-revoked-" + uuid.uuid4().hex
    for raw in (revoked_raw, live_raw):
        await adapter.store_refresh_token(
            RefreshTokenSchema(
                token=hash_refresh_token(raw),
                user_id=user.id,
                expires_at=now() + timedelta(days=7),
                family_id=family,
                user_agent="python-httpx/0.28",
                ip_address="198.51.100.4",
            )
        )
    assert await adapter.revoke_refresh_token(hash_refresh_token(revoked_raw)) is True
    assert await adapter.revoke_refresh_token(hash_refresh_token(revoked_raw)) is False
    await adapter.assign_role(user.id, "viewer")
    await adapter.assign_role(user.id, "admin")
    await adapter.assign_permission_to_role("admin", "users:read")
    roles = await adapter.get_user_roles(user.id)
    # The hash our side would write verifies on the Python side too (checked
    # by the test through the CLI's set-password afterwards).
    assert verify_password(password, await adapter.get_hashed_password(user.id))
    await engine.dispose()
    return {
        "user_id": str(user.id),
        "email": user.email,
        "password": password,
        "family_id": family,
        "live_raw": live_raw,
        "revoked_raw": revoked_raw,
        "roles": sorted(roles),
    }


async def check_password(
    url: str, schema: str | None, models: Models, email: str, password: str
) -> dict:
    """Whether the library verifies `password` against the stored hash."""
    engine = engine_for(url, schema)
    adapter = adapter_for(engine, models)
    user = await adapter.get_user_by_email(email)
    hashed = await adapter.get_hashed_password(user.id) if user else None
    await engine.dispose()
    return {"matches": bool(hashed and verify_password(password, hashed)), "is_active": bool(user and user.is_active)}


def ddl(url: str, models: Models) -> dict:
    """The DDL of the models for the URL's dialect, without a database.

    The statements are exactly those create_all emits, laid out as the
    fixtures are: one block per table in `metadata.sorted_tables` order (by
    dependency, then by name; create_all itself follows the order the models
    were declared in where dependencies allow), its CREATE TABLE, then a
    CREATE INDEX per index sorted by index name (create_all walks the table's
    set of indexes, in an order that is not stable from run to run). Each
    statement ends in ";", blocks are separated by a blank line, and the
    trailing blanks SQLAlchemy leaves after the commas of a CREATE TABLE are
    dropped.
    """
    dialect = make_url(url).get_dialect()()

    def compiled(element) -> str:
        sql = str(element.compile(dialect=dialect)).strip()
        return "\n".join(line.rstrip() for line in sql.splitlines()) + ";\n"

    blocks = []
    for table in models.base.metadata.sorted_tables:
        statements = [compiled(CreateTable(table))]
        statements += [compiled(CreateIndex(index)) for index in sorted(table.indexes, key=lambda i: i.name)]
        blocks.append("".join(statements))
    return {"ddl": "\n".join(blocks)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["create", "rotation", "use-ours", "check-password", "ddl"])
    p.add_argument("url")
    p.add_argument("--schema")
    p.add_argument("--user-id-type", choices=USER_ID_TYPES, default="uuid")
    p.add_argument("--old")
    p.add_argument("--new")
    p.add_argument("--email")
    p.add_argument("--password")
    a = p.parse_args()
    models = models_for(a.user_id_type)
    if a.command == "create":
        out = asyncio.run(create(a.url, a.schema, models))
    elif a.command == "rotation":
        out = asyncio.run(rotation(a.url, a.schema, models, a.old, a.new))
    elif a.command == "use-ours":
        out = asyncio.run(use_ours(a.url, a.schema, models))
    elif a.command == "check-password":
        out = asyncio.run(check_password(a.url, a.schema, models, a.email, a.password))
    else:
        out = ddl(a.url, models)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
