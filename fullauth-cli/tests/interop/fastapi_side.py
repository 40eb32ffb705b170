"""The Python side of the interoperability tests: fastapi-fullauth 0.18's
SQLAlchemy adapter and models, used the way its documentation shows.

Usage (prints one JSON object on stdout):

    fastapi_side.py create     DB_URL [--schema S]   direction 1: create_all + data
    fastapi_side.py rotation   DB_URL [--schema S] --old RAW --new RAW
                                                     direction 1: see our rotation
    fastapi_side.py use-ours   DB_URL [--schema S]   direction 2: write into our schema

DB_URL is a SQLAlchemy async URL (sqlite+aiosqlite:///PATH,
postgresql+asyncpg://USER@HOST:PORT/DB or mysql+aiomysql://USER@HOST:PORT/DB);
on PostgreSQL the tables live in schema S (the connection's search_path); on
MariaDB the "schema" is the database the URL names (--schema is ignored: the
test creates the database).
"""

import argparse
import asyncio
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

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
)


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


def engine_for(url: str, schema: str | None):
    if url.startswith("postgresql"):
        return create_async_engine(
            url, connect_args={"server_settings": {"search_path": schema or "public"}}
        )
    if url.startswith("mysql"):
        # The database is the URL's; utf8mb4 as the app would connect.
        return create_async_engine(url, connect_args={"charset": "utf8mb4"})
    return create_async_engine(url)


def adapter_for(engine) -> SQLAlchemyAdapter:
    return SQLAlchemyAdapter(
        async_sessionmaker(engine, expire_on_commit=False),
        user_model=User,
        refresh_token_model=RefreshToken,
        role_model=Role,
        user_role_model=UserRole,
        permission_model=Permission,
        role_permission_model=RolePermission,
        oauth_account_model=OAuthAccount,
        passkey_model=Passkey,
        mfa_model=MFA,
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


async def create(url: str, schema: str | None) -> dict:
    """Direction 1: the library creates the tables and every kind of row."""
    engine = engine_for(url, schema)
    async with engine.begin() as conn:
        if schema and url.startswith("postgresql"):
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(Base.metadata.create_all)
    adapter = adapter_for(engine)

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


async def rotation(url: str, schema: str | None, old: str, new: str) -> dict:
    """Direction 1, end: what the library sees after our rotation."""
    engine = engine_for(url, schema)
    adapter = adapter_for(engine)
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


async def use_ours(url: str, schema: str | None) -> dict:
    """Direction 2: the library on tables our migrations created."""
    engine = engine_for(url, schema)
    adapter = adapter_for(engine)
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


async def check_password(url: str, schema: str | None, email: str, password: str) -> dict:
    """Whether the library verifies `password` against the stored hash."""
    engine = engine_for(url, schema)
    adapter = adapter_for(engine)
    user = await adapter.get_user_by_email(email)
    hashed = await adapter.get_hashed_password(user.id) if user else None
    await engine.dispose()
    return {"matches": bool(hashed and verify_password(password, hashed)), "is_active": bool(user and user.is_active)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["create", "rotation", "use-ours", "check-password"])
    p.add_argument("url")
    p.add_argument("--schema")
    p.add_argument("--old")
    p.add_argument("--new")
    p.add_argument("--email")
    p.add_argument("--password")
    a = p.parse_args()
    if a.command == "create":
        out = asyncio.run(create(a.url, a.schema))
    elif a.command == "rotation":
        out = asyncio.run(rotation(a.url, a.schema, a.old, a.new))
    elif a.command == "use-ours":
        out = asyncio.run(use_ours(a.url, a.schema))
    else:
        out = asyncio.run(check_password(a.url, a.schema, a.email, a.password))
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
