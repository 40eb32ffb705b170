"""Records the answers of fastapi-fullauth 0.18.0 to a scripted sequence of
requests, for tests/reference.rs to replay against fullauth-axum.

Run once, in a virtualenv with the reference installed:

    pip install "fastapi-fullauth[sqlalchemy]==0.18.0" aiosqlite httpx pyotp
    python tests/reference/record.py > tests/reference/answers-0.18.0.json

The app mounts every router on in-memory SQLite with roles, permissions and
MFA (issuer "Probe"), the per-route rate limits raised out of the way, and
two app routes guarded by require_role("admin") and
require_permission("posts:write"). It runs twice: bearer transport, then the
cookie transport (the client keeps cookies, as a browser would).

Each step names its request with placeholders ({access}, {refresh},
{mfa_token}, {totp}, {totp_wrong}, {recovery0}, {recovery1}) that the replay
fills from earlier answers ("capture"), and the answer with volatile values
masked (tokens, ids, times, secrets, cookie dates).
"""

import asyncio
import json
import re
import sys

import pyotp
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, relationship
from sqlalchemy.pool import StaticPool

from fastapi_fullauth import FullAuth, FullAuthConfig
from fastapi_fullauth.adapters.sqlalchemy import SQLAlchemyAdapter
from fastapi_fullauth.backends.cookie import CookieBackend
from fastapi_fullauth.dependencies.rbac import require_permission, require_role
from fastapi_fullauth.models.sqlalchemy import (
    MFAMixin,
    PermissionMixin,
    RefreshTokenMixin,
    RoleMixin,
    RolePermissionMixin,
    UserMixin,
    UserRoleMixin,
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


class MFA(MFAMixin, Base):
    pass


def mask(v):
    if isinstance(v, dict):
        return {k: mask(x) for k, x in v.items()}
    if isinstance(v, list):
        return [mask(x) for x in v]
    if isinstance(v, str):
        v = re.sub(r"eyJ[\w.-]+", "<jwt>", v)
        v = re.sub(r"expires=[^;]+", "expires=<date>", v)
        if re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", v):
            return "<code>"
        if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", v):
            return "<uuid>"
        if re.fullmatch(r"[0-9a-f]{32}", v):
            return "<hex>"
        if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", v):
            return "<time>"
        if re.fullmatch(r"[A-Z2-7]{32}", v):
            return "<secret>"
        v = re.sub(r"secret=[A-Z2-7]{32}", "secret=<secret>", v)
    return v


def run(cookie: bool) -> list:
    engine = create_async_engine(
        "sqlite+aiosqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )

    async def setup():
        async with engine.begin() as c:
            await c.run_sync(Base.metadata.create_all)

    asyncio.run(setup())
    adapter = SQLAlchemyAdapter(
        async_sessionmaker(engine, expire_on_commit=False),
        user_model=User,
        refresh_token_model=RefreshToken,
        role_model=Role,
        user_role_model=UserRole,
        permission_model=Permission,
        role_permission_model=RolePermission,
        mfa_model=MFA,
    )
    cfg = FullAuthConfig(
        SECRET_KEY="x" * 40,
        MFA_ISSUER="Probe",
        AUTH_RATE_LIMITS={"login": 1000, "register": 1000, "password_reset": 1000, "refresh": 1000},
    )
    fa = FullAuth(adapter=adapter, config=cfg, backends=[CookieBackend(cfg)] if cookie else None)
    app = FastAPI()
    fa.init_app(app)

    @app.get("/app/admin")
    async def admin(user=Depends(require_role("admin"))):
        return {"ok": True}

    @app.get("/app/posts")
    async def posts(user=Depends(require_permission("posts:write"))):
        return {"ok": True}

    client = TestClient(app, base_url="https://testserver")
    steps = []
    vars = {}

    def fill(x):
        if isinstance(x, str):
            for k, v in vars.items():
                x = x.replace("{" + k + "}", v)
            return x
        if isinstance(x, dict):
            return {k: fill(v) for k, v in x.items()}
        if isinstance(x, list):
            return [fill(v) for v in x]
        return x

    def step(name, method, path, *, json_body=None, content=None, content_type=None, auth=None,
             capture=None, clear_cookies=False):
        if clear_cookies:
            client.cookies.clear()
        headers = {}
        if content_type is not None:
            headers["content-type"] = content_type
        if auth is not None:
            headers["authorization"] = fill(auth)
        url = path if path.startswith("/app/") else "/api/v1/auth" + path
        kw = {"headers": headers, "follow_redirects": False}
        if json_body is not None:
            kw["json"] = fill(json_body)
        if content is not None:
            kw["content"] = fill(content).encode()
        r = client.request(method, url, **kw)
        try:
            body = r.json()
        except Exception:
            body = r.text
        for var, key in (capture or {}).items():
            if key == "cookie:fullauth_refresh":
                vars[var] = r.cookies.get("fullauth_refresh") or body.get("refresh_token") or ""
            else:
                value = body
                for part in key.split("."):
                    value = value[int(part)] if isinstance(value, list) else value[part]
                vars[var] = value
        if "secret" in vars:
            now = pyotp.TOTP(vars["secret"]).now()
            vars["totp"] = now
            vars["totp_wrong"] = "000000" if now != "000000" else "111111"
        location = r.headers.get("location")
        steps.append({
            "name": name,
            "method": method,
            "path": path,
            "json": json_body,
            "content": content,
            "content_type": content_type,
            "auth": auth,
            "clear_cookies": clear_cookies,
            "capture": capture or {},
            "status": r.status_code,
            "www_authenticate": r.headers.get("www-authenticate"),
            "location_path": re.sub(r"^https?://[^/]+", "", location) if location else None,
            "body": mask(body),
            "set_cookie": [mask(c) for c in r.headers.get_list("set-cookie")],
        })
        return r

    B = "Bearer {access}"
    step("register-missing-pw", "POST", "/register", json_body={"email": "a@example.com"})
    step("register-bad-email", "POST", "/register", json_body={"email": "nope", "password": "longenough1"})
    step("register-bad-email2", "POST", "/register", json_body={"email": "@x.com", "password": "longenough1"})
    step("register-bad-email3", "POST", "/register", json_body={"email": "a@", "password": "longenough1"})
    step("register-bad-email4", "POST", "/register", json_body={"email": "a@b", "password": "longenough1"})
    step("register-email-int", "POST", "/register", json_body={"email": 5, "password": "longenough1"})
    step("register-pw-int", "POST", "/register", json_body={"email": "a@example.com", "password": 12345678})
    step("register-short", "POST", "/register", json_body={"email": "a@example.com", "password": "short"})
    step("register-array", "POST", "/register", json_body=[1, 2])
    step("register-nobody", "POST", "/register")
    step("register-badjson", "POST", "/register", content="{nope", content_type="application/json")
    step("register-form", "POST", "/register", content="email=a&password=b",
         content_type="application/x-www-form-urlencoded")
    step("register-textplain", "POST", "/register",
         content='{"email":"q2@example.com","password":"longenough1"}', content_type="text/plain")
    step("register-ok", "POST", "/register", json_body={"email": "A@Example.com", "password": "longenough1"})
    step("register-dup", "POST", "/register", json_body={"email": "a@example.com", "password": "longenough1"})
    step("register-null", "POST", "/register", json_body={"email": None, "password": None})
    step("login-missing", "POST", "/login", json_body={})
    step("login-nobody", "POST", "/login")
    step("login-bad", "POST", "/login", json_body={"email": "a@example.com", "password": "wrong"})
    step("login-ok", "POST", "/login", json_body={"email": "a@example.com", "password": "longenough1"},
         capture={"access": "access_token", "refresh": "cookie:fullauth_refresh"})
    step("me", "GET", "/me", auth=B)
    step("me-lower", "GET", "/me", auth="bearer {access}")
    step("me-token-scheme", "GET", "/me", auth="Token {access}")
    step("me-garbage", "GET", "/me", auth="Bearer garbage")
    step("me-trailing", "GET", "/me/", auth=B)
    step("me-post", "POST", "/me", auth=B)
    step("nope", "GET", "/nope")
    step("me-verified", "GET", "/me/verified", auth=B)
    step("app-admin", "GET", "/app/admin", auth=B)
    step("app-posts", "GET", "/app/posts", auth=B)
    step("sessions", "GET", "/sessions", auth=B)
    step("sessions-del-unknown", "DELETE", "/sessions/abc", auth=B)
    step("refresh-int", "POST", "/refresh", json_body={"refresh_token": 5})
    step("refresh-array", "POST", "/refresh", json_body=[1])
    step("refresh-badjson", "POST", "/refresh", content="{nope", content_type="application/json")
    step("refresh-ok", "POST", "/refresh", json_body={"refresh_token": "{refresh}"})
    step("refresh-reuse", "POST", "/refresh", json_body={"refresh_token": "{refresh}"}, clear_cookies=True)
    step("me-after-reuse", "GET", "/me", auth=B)
    step("refresh-nobody", "POST", "/refresh")
    step("logout-nothing", "POST", "/logout")
    step("login-ok2", "POST", "/login", json_body={"email": "a@example.com", "password": "longenough1"},
         capture={"access": "access_token"})
    step("revoke-others", "POST", "/sessions/revoke-others", auth=B)
    step("verify-request", "POST", "/verify-email/request", auth=B)
    step("verify-confirm-garbage", "POST", "/verify-email/confirm", json_body={"token": "garbage"})
    step("verify-confirm-missing", "POST", "/verify-email/confirm", json_body={})
    step("reset-request", "POST", "/password-reset/request", json_body={"email": "nobody@example.com"})
    step("reset-request-bad", "POST", "/password-reset/request", json_body={"email": "nobody"})
    step("reset-confirm-garbage-short", "POST", "/password-reset/confirm",
         json_body={"token": "garbage", "new_password": "x"})
    step("mfa-status", "GET", "/mfa", auth=B)
    step("mfa-enroll", "POST", "/mfa/enroll", auth=B, capture={"secret": "secret"})
    step("mfa-confirm-empty", "POST", "/mfa/confirm", auth=B, json_body={"code": ""})
    step("mfa-confirm-long", "POST", "/mfa/confirm", auth=B, json_body={"code": "1" * 65})
    step("mfa-confirm-wrong", "POST", "/mfa/confirm", auth=B, json_body={"code": "{totp_wrong}"})
    step("mfa-confirm-ok", "POST", "/mfa/confirm", auth=B, json_body={"code": "{totp}"},
         capture={"recovery0": "recovery_codes.0", "recovery1": "recovery_codes.1"})
    step("mfa-confirm-again", "POST", "/mfa/confirm", auth=B, json_body={"code": "{totp}"})
    step("mfa-enroll-again", "POST", "/mfa/enroll", auth=B)
    step("mfa-status2", "GET", "/mfa", auth=B)
    step("login-mfa", "POST", "/login", json_body={"email": "a@example.com", "password": "longenough1"},
         capture={"mfa_token": "mfa_token"}, clear_cookies=True)
    step("me-with-mfa-token", "GET", "/me", auth="Bearer {mfa_token}")
    step("mfa-verify-wrong", "POST", "/mfa/verify", json_body={"mfa_token": "{mfa_token}", "code": "abc"})
    step("mfa-verify-missing", "POST", "/mfa/verify", json_body={"code": "abc"})
    step("mfa-verify-recovery", "POST", "/mfa/verify",
         json_body={"mfa_token": "{mfa_token}", "code": "{recovery0}"})
    step("mfa-verify-replay", "POST", "/mfa/verify",
         json_body={"mfa_token": "{mfa_token}", "code": "{recovery1}"})
    step("mfa-disable", "DELETE", "/mfa", auth=B)
    step("logout-ok", "POST", "/logout", auth=B)
    step("logout-again", "POST", "/logout", auth=B)
    step("me-after-logout", "GET", "/me", auth=B)
    return steps


if __name__ == "__main__":
    out = {"version": "fastapi-fullauth 0.18.0", "bearer": run(False), "cookie": run(True)}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
