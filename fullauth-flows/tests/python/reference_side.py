"""The Python side of the token compatibility tests (tests/python_compat.rs):
fastapi-fullauth 0.18's own TokenEngine, refresh, logout, email-verification
and password-reset flows, token-pair issuing and SQLAlchemy adapter, set up
the way its documentation shows.

    reference_side.py [SETUP OPTIONS] COMMAND [COMMAND OPTIONS]
    reference_side.py [SETUP OPTIONS] serve

The first form runs one command and prints one JSON object. `serve` is one
long-lived Python service: it reads one JSON array of command arguments per
line on stdin and answers one JSON object per line on stdout, keeping its
blacklist (the in-memory one unless --redis is given), its database engine
and its Redis client between commands, as a running application would.

A refusal by the library is an answer, not a failure:

    {"ok": false, "error": "<exception class>", "message": "<text>"}

and, with "uncaught": true, any other exception out of the library (its
routes answer 500 for those).

Anything else (bad arguments, an unreachable database) answers
{"crash": "<traceback>"} in serve mode, or exits non-zero otherwise.

Setup options:

    --secret S            SECRET_KEY (32 characters or more)
    --algorithm A         ALGORITHM (HS256, HS384, HS512; default HS256)
    --issuer I            JWT_ISSUER
    --audience A          JWT_AUDIENCE
    --redis URL           the library's Redis blacklist on this server
                          (BLACKLIST_BACKEND=redis)
    --redis-prefix P      the blacklist keys are P + "blacklist:" + key instead
                          of "fullauth:blacklist:" + key
    --db URL              SQLAlchemy async URL of the shared database
                          (sqlite+aiosqlite:///PATH, postgresql+asyncpg://...)
    --schema S            PostgreSQL schema holding the tables (search_path)

Commands (the token settings --secret, --algorithm, --issuer and --audience
may also be given to one command, which then uses a TokenEngine of its own
with those settings on the same blacklist):

    mint --kind access|refresh|pair --sub ID [--roles a,b] [--extra JSON]
         [--family F] [--auth-time UNIX] [--expire-seconds N]
        TokenEngine.create_access_token / create_refresh_token /
        create_token_pair: the token(s), their header and claims.
    sign --payload JSON
        PyJWT's signing of exactly this payload with the engine's key and
        algorithm, without jwt.encode's own claim checks: for crafted claims.
    decode --token T [--expected-type access|refresh] [--expected-purpose P]
           [--session]
        TokenEngine.decode_token; --session adds the current-user
        dependency's refusal of any extra.purpose. The TokenPayload (times
        as Unix seconds), the raw header and claims, or the refusal.
    session-check --token T
        The current-user dependency: decode as an access token, refuse a
        purpose, load the user, refuse a missing or inactive one.
    login --email E --password P [--roles a,b] [--user-agent UA] [--ip IP]
        Creates the user through the adapter when missing (the library's
        argon2id hash), assigns the roles, then issue_token_pair: the
        library's own way of starting a session (login, OAuth, passkeys).
    refresh --token T [--user-agent UA] [--ip IP]
        flows.refresh.refresh (rotation on, the default).
    logout [--access T] [--refresh R]
        POST /auth/logout: flows.logout.logout when the access token decodes
        as a session token, else logout_with_refresh_token.
    row --token RAW
        The stored refresh-token row of sha256(RAW) and the live sessions of
        its user.
    blacklisted --key K
        The blacklist's own answer for one key (a jti, or family:<id>).
    verify-token --email E
        flows.email_verify.create_email_verification_token.
    verify-email --token T
        flows.email_verify.verify_email.
    reset-token --email E
        flows.password_reset.request_password_reset.
    reset-password --token T --password P
        flows.password_reset.reset_password (argon2id).
    user --email E [--password P]
        The user as the adapter reads it, whether P verifies against the
        stored hash, and the live sessions.
"""

import argparse
import asyncio
import json
import os
import sys
import traceback
from datetime import datetime, timezone

# The library's settings read FULLAUTH_* variables and a .env file: only this
# script's arguments may configure it.
for _name in [n for n in os.environ if n.startswith("FULLAUTH_")]:
    del os.environ[_name]

import jwt
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

from fastapi_fullauth.adapters.sqlalchemy import SQLAlchemyAdapter
from fastapi_fullauth.config import FullAuthConfig
from fastapi_fullauth.core.blacklist import InMemoryTokenBlacklist, RedisTokenBlacklist
from fastapi_fullauth.core.crypto import hash_password, hash_refresh_token, verify_password
from fastapi_fullauth.core.tokens import TokenEngine
from fastapi_fullauth.exceptions import FullAuthError
from fastapi_fullauth.flows.email_verify import create_email_verification_token, verify_email
from fastapi_fullauth.flows.logout import logout, logout_with_refresh_token
from fastapi_fullauth.flows.password_reset import request_password_reset, reset_password
from fastapi_fullauth.flows.refresh import refresh
from fastapi_fullauth.flows.tokens import issue_token_pair
from fastapi_fullauth.models.sqlalchemy import (
    RefreshTokenMixin,
    RoleMixin,
    UserMixin,
    UserRoleMixin,
)
from fastapi_fullauth.types import CreateUserSchema


class Base(DeclarativeBase):
    pass


class Role(RoleMixin, Base):
    pass


class UserRole(UserRoleMixin, Base):
    pass


class RefreshToken(RefreshTokenMixin, Base):
    pass


class User(UserMixin, Base):
    roles: Mapped[list[Role]] = relationship(secondary="fullauth_user_roles", lazy="selectin")


TOKEN_SETTINGS = ("secret", "algorithm", "issuer", "audience")


def add_token_settings(p: argparse.ArgumentParser) -> None:
    p.add_argument("--secret")
    p.add_argument("--algorithm")
    p.add_argument("--issuer")
    p.add_argument("--audience")


def setup_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    add_token_settings(p)
    p.add_argument("--redis")
    p.add_argument("--redis-prefix")
    p.add_argument("--db")
    p.add_argument("--schema")
    return p


def command_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reference_side.py COMMAND", exit_on_error=False)
    p.add_argument(
        "command",
        choices=[
            "mint",
            "sign",
            "decode",
            "session-check",
            "login",
            "refresh",
            "logout",
            "row",
            "blacklisted",
            "verify-token",
            "verify-email",
            "reset-token",
            "reset-password",
            "user",
        ],
    )
    add_token_settings(p)
    p.add_argument("--kind", choices=["access", "refresh", "pair"], default="pair")
    p.add_argument("--sub")
    p.add_argument("--roles")
    p.add_argument("--extra")
    p.add_argument("--family")
    p.add_argument("--auth-time", type=int)
    p.add_argument("--expire-seconds", type=int)
    p.add_argument("--payload")
    p.add_argument("--token")
    p.add_argument("--expected-type")
    p.add_argument("--expected-purpose")
    p.add_argument("--session", action="store_true")
    p.add_argument("--email")
    p.add_argument("--password")
    p.add_argument("--user-agent")
    p.add_argument("--ip")
    p.add_argument("--access")
    p.add_argument("--refresh")
    p.add_argument("--key")
    return p


class Service:
    """One configured application: settings, blacklist, database."""

    def __init__(self, setup: argparse.Namespace) -> None:
        self.setup = setup
        self.config = self.config_for(setup)
        if setup.redis:
            # What create_blacklist(config) builds for BLACKLIST_BACKEND=redis.
            self.blacklist = RedisTokenBlacklist(
                redis_url=setup.redis,
                default_ttl_seconds=self.config.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
            )
            if setup.redis_prefix is not None:
                # The library hard-codes "fullauth:blacklist:"; a test run
                # gets a prefix of its own so that runs never see each
                # other's keys. The rest of the key ("blacklist:" + jti or
                # family:<id>) is the library's.
                self.blacklist._prefix = f"{setup.redis_prefix}blacklist:"
        else:
            self.blacklist = InMemoryTokenBlacklist()
        self.tokens = TokenEngine(config=self.config, blacklist=self.blacklist)
        self.engine = self.db_engine(setup) if setup.db else None
        self.adapter = self.adapter_for(self.engine) if self.engine else None

    def config_for(self, a: argparse.Namespace) -> FullAuthConfig:
        settings = {
            "SECRET_KEY": a.secret,
            "ALGORITHM": a.algorithm or "HS256",
            "JWT_ISSUER": a.issuer,
            "JWT_AUDIENCE": a.audience,
            "BACKEND": "memory",
            "BLACKLIST_BACKEND": "redis" if self.setup.redis else "memory",
        }
        if self.setup.redis:
            settings["REDIS_URL"] = self.setup.redis
        return FullAuthConfig(_env_file=None, **settings)

    def engine_for(self, a: argparse.Namespace) -> TokenEngine:
        """The service's engine, or one with this command's token settings
        on the same blacklist."""
        if all(getattr(a, name) is None for name in TOKEN_SETTINGS):
            return self.tokens
        merged = argparse.Namespace(
            **{
                name: getattr(a, name) if getattr(a, name) is not None else getattr(self.setup, name)
                for name in TOKEN_SETTINGS
            }
        )
        return TokenEngine(config=self.config_for(merged), blacklist=self.blacklist)

    @staticmethod
    def db_engine(setup: argparse.Namespace):
        if setup.db.startswith("postgresql"):
            return create_async_engine(
                setup.db,
                connect_args={"server_settings": {"search_path": setup.schema or "public"}},
            )
        engine = create_async_engine(setup.db)

        # SQLAlchemy's documented recipe for real transactions on SQLite
        # (pysqlite and aiosqlite begin lazily otherwise), which the adapter's
        # transaction() docs ask for: refresh revokes and stores in one.
        @event.listens_for(engine.sync_engine, "connect")
        def _autocommit_driver(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _explicit_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine

    @staticmethod
    def adapter_for(engine) -> SQLAlchemyAdapter:
        return SQLAlchemyAdapter(
            async_sessionmaker(engine, expire_on_commit=False),
            user_model=User,
            refresh_token_model=RefreshToken,
            role_model=Role,
            user_role_model=UserRole,
        )

    def need_db(self) -> SQLAlchemyAdapter:
        if self.adapter is None:
            raise SystemExit("this command needs --db")
        return self.adapter

    async def run(self, a: argparse.Namespace) -> dict:
        tokens = self.engine_for(a)
        handler = getattr(self, "cmd_" + a.command.replace("-", "_"))
        try:
            return await handler(a, tokens)
        except FullAuthError as e:
            return {"ok": False, "error": type(e).__name__, "message": str(e)}
        except Exception as e:
            # What the library lets out of a flow other than its own errors:
            # its routes answer 500 (decode_token does so for a signed token
            # whose roles or family_id has the wrong type, pydantic's
            # ValidationError, or whose exp or iat is a numeric string,
            # TypeError).
            return {
                "ok": False,
                "error": type(e).__name__,
                "uncaught": True,
                "message": traceback.format_exc(),
            }

    async def aclose(self) -> None:
        await self.blacklist.aclose()
        if self.engine is not None:
            await self.engine.dispose()

    # ---- tokens --------------------------------------------------------

    async def cmd_mint(self, a, tokens: TokenEngine) -> dict:
        extra = json.loads(a.extra) if a.extra else None
        auth_time = (
            datetime.fromtimestamp(a.auth_time, tz=timezone.utc)
            if a.auth_time is not None
            else None
        )
        out: dict = {"ok": True}
        if a.kind == "access":
            token = tokens.create_access_token(
                a.sub,
                roles=csv(a.roles),
                extra=extra,
                expire_seconds=a.expire_seconds,
                family_id=a.family,
                auth_time=auth_time,
            )
            out.update(access_token=token, access=raw(token))
        elif a.kind == "refresh":
            meta = tokens.create_refresh_token(a.sub, a.family, auth_time=auth_time)
            out.update(refresh_token=meta.token, family_id=meta.family_id, refresh=raw(meta.token))
        else:
            access, meta = tokens.create_token_pair(
                a.sub, roles=csv(a.roles), extra=extra, family_id=a.family, auth_time=auth_time
            )
            out.update(
                access_token=access,
                refresh_token=meta.token,
                family_id=meta.family_id,
                access=raw(access),
                refresh=raw(meta.token),
            )
        return out

    async def cmd_sign(self, a, tokens: TokenEngine) -> dict:
        # jwt.encode serialises exactly so, after checks of its own that would
        # refuse to sign some of the malformed claims the tests craft.
        payload = json.dumps(json.loads(a.payload), separators=(",", ":")).encode()
        token = jwt.api_jws.PyJWS().encode(
            payload, tokens.config.SECRET_KEY, algorithm=tokens.config.ALGORITHM,
            headers={"typ": "JWT"},
        )
        return {"ok": True, "token": token}

    async def cmd_decode(self, a, tokens: TokenEngine) -> dict:
        payload = await tokens.decode_token(
            a.token, expected_type=a.expected_type, expected_purpose=a.expected_purpose
        )
        # dependencies/current_user.py: a session token must carry no purpose.
        if a.session and payload.extra.get("purpose"):
            return {"ok": False, "error": "PurposeScopedToken", "message": "purpose on a session"}
        return {"ok": True, "payload": payload_json(payload), **raw(a.token)}

    async def cmd_blacklisted(self, a, tokens: TokenEngine) -> dict:
        return {"ok": True, "blacklisted": await tokens.blacklist.is_blacklisted(a.key)}

    # ---- sessions on the shared database ---------------------------------

    async def cmd_session_check(self, a, tokens: TokenEngine) -> dict:
        adapter = self.need_db()
        payload = await tokens.decode_token(a.token, expected_type="access")
        if payload.extra.get("purpose"):
            return {"ok": False, "error": "PurposeScopedToken", "message": "purpose on a session"}
        try:
            user_id = adapter.parse_user_id(payload.sub)
        except ValueError as e:
            return {"ok": False, "error": "BadSubject", "message": str(e)}
        user = await adapter.get_user_by_id(user_id)
        if user is None or not user.is_active:
            return {"ok": False, "error": "UnknownOrInactiveUser", "message": payload.sub}
        return {"ok": True, "user_id": str(user.id), "payload": payload_json(payload)}

    async def cmd_login(self, a, tokens: TokenEngine) -> dict:
        adapter = self.need_db()
        user = await adapter.get_user_by_email(a.email)
        if user is None:
            user = await adapter.create_user(
                CreateUserSchema(email=a.email, password=a.password),
                hashed_password=hash_password(a.password),
            )
        for role in csv(a.roles):
            await adapter.assign_role(user.id, role)
        pair = await issue_token_pair(
            adapter, tokens, user, user_agent=a.user_agent, ip_address=a.ip
        )
        return {"ok": True, "user_id": str(user.id), **pair_json(pair)}

    async def cmd_refresh(self, a, tokens: TokenEngine) -> dict:
        pair = await refresh(
            self.need_db(), tokens, a.token, user_agent=a.user_agent, ip_address=a.ip
        )
        return {"ok": True, **pair_json(pair)}

    async def cmd_logout(self, a, tokens: TokenEngine) -> dict:
        adapter = self.need_db()
        # routers/auth.py: logout_route and _session_payload.
        payload = None
        if a.access is not None:
            try:
                payload = await tokens.decode_token(a.access, expected_type="access")
            except FullAuthError:
                payload = None
            if payload is not None and payload.extra.get("purpose"):
                payload = None
        if payload is not None:
            await logout(tokens, payload, adapter=adapter, refresh_token=a.refresh)
            return {"ok": True, "via": "access", "sub": payload.sub}
        if a.refresh is not None:
            payload = await logout_with_refresh_token(adapter, tokens, a.refresh)
            return {"ok": True, "via": "refresh", "sub": payload.sub}
        return {"ok": False, "error": "NoCredentials", "message": "no usable token"}

    async def cmd_row(self, a, tokens: TokenEngine) -> dict:
        adapter = self.need_db()
        row = await adapter.get_refresh_token(hash_refresh_token(a.token))
        if row is None:
            return {"ok": True, "exists": False}
        sessions = await adapter.list_user_sessions(row.user_id)
        return {
            "ok": True,
            "exists": True,
            "digest": row.token,
            "user_id": str(row.user_id),
            "family_id": row.family_id,
            "revoked": row.revoked,
            "user_agent": row.user_agent,
            "ip_address": row.ip_address,
            "expires_at": unix(aware(row.expires_at)),
            "sessions": [s.family_id for s in sessions],
        }

    # ---- purpose-scoped tokens -------------------------------------------

    async def cmd_verify_token(self, a, tokens: TokenEngine) -> dict:
        adapter = self.need_db()
        user = await adapter.get_user_by_email(a.email)
        if user is None:
            return {"ok": False, "error": "UserNotFound", "message": a.email}
        token = await create_email_verification_token(adapter, tokens, user.id)
        return {"ok": True, "token": token}

    async def cmd_verify_email(self, a, tokens: TokenEngine) -> dict:
        user = await verify_email(self.need_db(), tokens, a.token)
        return {"ok": True, "user_id": str(user.id), "is_verified": user.is_verified}

    async def cmd_reset_token(self, a, tokens: TokenEngine) -> dict:
        token = await request_password_reset(self.need_db(), tokens, a.email)
        return {"ok": True, "token": token, **(raw(token) if token else {})}

    async def cmd_reset_password(self, a, tokens: TokenEngine) -> dict:
        user = await reset_password(self.need_db(), tokens, a.token, a.password)
        return {"ok": True, "user_id": str(user.id)}

    async def cmd_user(self, a, tokens: TokenEngine) -> dict:
        adapter = self.need_db()
        user = await adapter.get_user_by_email(a.email)
        if user is None:
            return {"ok": True, "exists": False}
        hashed = await adapter.get_hashed_password(user.id)
        return {
            "ok": True,
            "exists": True,
            "user_id": str(user.id),
            "is_active": user.is_active,
            "is_verified": user.is_verified,
            "roles": sorted(await adapter.get_user_roles(user.id)),
            "password_matches": bool(
                a.password is not None and hashed and verify_password(a.password, hashed)
            ),
            "sessions": [s.family_id for s in await adapter.list_user_sessions(user.id)],
        }


def csv(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; the library writes UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def raw(token: str) -> dict:
    claims = jwt.decode(token, options={"verify_signature": False})
    return {
        "header": jwt.get_unverified_header(token),
        "claims": claims,
        # JSON objects lose their order on the Rust side; the order is kept here.
        "claim_order": list(claims),
    }


def payload_json(payload) -> dict:
    return {
        "sub": payload.sub,
        "exp": unix(payload.exp),
        "iat": unix(payload.iat),
        "jti": payload.jti,
        "type": payload.type,
        "roles": payload.roles,
        "extra": payload.extra,
        "family_id": payload.family_id,
        "auth_time": unix(payload.auth_time),
    }


def pair_json(pair) -> dict:
    access = jwt.decode(pair.access_token, options={"verify_signature": False})
    refresh = jwt.decode(pair.refresh_token, options={"verify_signature": False})
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
        "family_id": refresh.get("family_id"),
        "access_claims": access,
        "refresh_claims": refresh,
    }


async def serve(service: Service) -> None:
    parser = command_parser()
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            try:
                args = json.loads(line)
                answer = await service.run(parser.parse_args(args))
            except (Exception, SystemExit):
                answer = {"crash": traceback.format_exc()}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await service.aclose()


async def once(service: Service, args: argparse.Namespace) -> dict:
    try:
        return await service.run(args)
    finally:
        await service.aclose()


def main() -> int:
    setup, rest = setup_parser().parse_known_args()
    if setup.secret is None:
        raise SystemExit("--secret is required")
    service = Service(setup)
    if rest == ["serve"]:
        asyncio.run(serve(service))
        return 0
    out = asyncio.run(once(service, command_parser().parse_args(rest)))
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
