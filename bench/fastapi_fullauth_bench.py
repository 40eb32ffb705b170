"""The fastapi-fullauth side of the store benchmark: the same operations as
our stores, run through fastapi-fullauth 0.18.0's SQLAlchemy adapter on a
database that the Rust side has already migrated and seeded.

Usage (prints ONE JSON object on stdout, anything else goes to stderr):

    python bench/fastapi_fullauth_bench.py --url URL [--schema S] --users-file F \
        --op OP --concurrency C --seconds T [--rotate-scope flow|token]

URL is a SQLAlchemy async URL: sqlite+aiosqlite:///PATH or
postgresql+asyncpg://USER@HOST:PORT/DB (on PostgreSQL the tables live in
schema S, set as the connection's search_path). F holds one seeded user id a
line (hex or dashed UUID); users are taken in turn (call i -> line i % n).

OP and the adapter calls it times (the public methods an app uses):

    create_user       create_user(CreateUserSchema(email, password),
                                  hashed_password=<one precomputed argon2 hash>)
    get_user          get_user_by_id(id)
    user_permissions  get_user_permissions(id)  (get_user_roles, then
                      get_permissions_for_roles: what require_permission calls)
    revoke            revoke_refresh_token(digest) on a live token
    rotate            --rotate-scope flow (default), the adapter calls of
                      flows.refresh.refresh() with REFRESH_TOKEN_ROTATION:
                        get_user_by_id, get_refresh_token, get_user_roles,
                        then in adapter.transaction(): revoke_refresh_token and
                        store_refresh_token(successor, same family)
                      --rotate-scope token, only the token part of that flow
                      (what one atomic rotate of a token store does):
                        get_refresh_token, then in adapter.transaction():
                        revoke_refresh_token and store_refresh_token
                      JWT encoding/decoding is not done nor timed.

Tokens for revoke and rotate are prepared untimed, in rounds: each round
bulk-inserts K fresh live tokens (users in turn) outside the clock, then the
C tasks revoke/rotate exactly those K under the clock; rounds repeat until
the clocked time reaches T. "seconds" is the sum of the clocked rounds.

C asyncio tasks share one adapter (one engine). PostgreSQL: the engine's
pool_size is max(5, C) (max_overflow stays at its default); SQLite: the
engine as create_async_engine gives it (QueuePool of 5 + 10 overflow).
Before the clock starts every op is warmed up (connections opened,
statements compiled) for a short untimed while.
"""

import argparse
import asyncio
import json
import math
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_fullauth.adapters.sqlalchemy import SQLAlchemyAdapter
from fastapi_fullauth.core.crypto import hash_password, hash_refresh_token
from fastapi_fullauth.types import CreateUserSchema, RefreshToken as RefreshTokenSchema

OPS = ("create_user", "get_user", "user_permissions", "revoke", "rotate")


# The models and the adapter as the library's documentation declares them,
# shared with the interoperability tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fullauth-cli" / "tests" / "interop"))
from fastapi_side import RefreshToken, adapter_for  # noqa: E402


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def engine_for(url: str, schema: str | None, concurrency: int):
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            pool_size=max(5, concurrency),
            connect_args={"server_settings": {"search_path": schema or "public"}},
        )
    return create_async_engine(url)


def now() -> datetime:
    return datetime.now(timezone.utc)


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile, in microseconds."""
    if not sorted_ns:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1000.0


class Bench:
    def __init__(self, adapter: SQLAlchemyAdapter, engine, users: list[uuid.UUID], args):
        self.adapter = adapter
        self.engine = engine
        self.users = users
        self.args = args
        self.next_user = 0
        self.run_tag = uuid.uuid4().hex[:12]
        self.created = 0
        self.errors = 0
        self.first_error: str | None = None
        self.hashed_password = ""

    def user(self) -> uuid.UUID:
        u = self.users[self.next_user % len(self.users)]
        self.next_user += 1
        return u

    def fail(self, what: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = what

    # ── the timed operations: each takes its prepared argument ─────────

    def prepare_create_user(self):
        self.created += 1
        email = f"pybench-{self.run_tag}-{self.created}@example.com"
        return CreateUserSchema(email=email, password="not used: hash precomputed")

    async def op_create_user(self, data: CreateUserSchema) -> bool:
        user = await self.adapter.create_user(data, hashed_password=self.hashed_password)
        return user is not None

    async def op_get_user(self, user_id: uuid.UUID) -> bool:
        return await self.adapter.get_user_by_id(user_id) is not None

    async def op_user_permissions(self, user_id: uuid.UUID) -> bool:
        return len(await self.adapter.get_user_permissions(user_id)) > 0

    async def op_revoke(self, tok: dict) -> bool:
        return await self.adapter.revoke_refresh_token(tok["token"])

    async def op_rotate(self, tok: dict) -> bool:
        adapter = self.adapter
        digest = hash_refresh_token(tok["raw"])
        if self.args.rotate_scope == "flow":
            user = await adapter.get_user_by_id(tok["user_id"])
            if user is None or not user.is_active:
                return False
            stored = await adapter.get_refresh_token(digest)
            if stored is None:
                return False
            await adapter.get_user_roles(user.id)  # the flow reads them for the claims
            user_id = user.id
        else:
            stored = await adapter.get_refresh_token(digest)
            if stored is None or stored.revoked:
                return False
            expires = stored.expires_at
            if (expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)) <= now():
                return False
            user_id = stored.user_id
        successor = "pybench-next-" + uuid.uuid4().hex
        async with adapter.transaction() as tx:
            won = await tx.revoke_refresh_token(digest)
            if won:
                await tx.store_refresh_token(
                    RefreshTokenSchema(
                        token=hash_refresh_token(successor),
                        user_id=user_id,
                        expires_at=now() + timedelta(days=30),
                        family_id=stored.family_id,
                        user_agent="pybench/1.0",
                        ip_address="127.0.0.1",
                    )
                )
        return won

    # ── running ─────────────────────────────────────────────────────────

    async def run_for(self, op, prepare, seconds: float, lat: list[int] | None) -> float:
        """C tasks call op(prepare()) until `seconds` have passed; returns the
        wall time from start until the last call returned."""
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                arg = prepare()
                t0 = time.perf_counter_ns()
                try:
                    ok = await op(arg)
                except Exception as e:  # noqa: BLE001 - counted and reported
                    self.fail(f"{type(e).__name__}: {e}")
                    continue
                t1 = time.perf_counter_ns()
                if not ok:
                    self.fail("the operation reported failure (missing/revoked row)")
                elif lat is not None:
                    lat.append(t1 - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
        return time.perf_counter() - start

    async def run_items(self, op, items: list, lat: list[int] | None) -> float:
        """C tasks share `items` and call op on each exactly once; returns
        the wall time from start until the last call returned."""
        it = iter(items)

        async def worker() -> None:
            for arg in it:
                t0 = time.perf_counter_ns()
                try:
                    ok = await op(arg)
                except Exception as e:  # noqa: BLE001 - counted and reported
                    self.fail(f"{type(e).__name__}: {e}")
                    continue
                t1 = time.perf_counter_ns()
                if not ok:
                    self.fail("the operation reported failure (missing/revoked row)")
                elif lat is not None:
                    lat.append(t1 - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
        return time.perf_counter() - start

    async def store_tokens(self, k: int) -> list[dict]:
        """Untimed: K fresh live tokens, users in turn, in one bulk insert
        (the rows store_refresh_token would write)."""
        created = now()
        expires = created + timedelta(days=30)
        rows, items = [], []
        for _ in range(k):
            user_id = self.user()
            raw = "pybench-" + uuid.uuid4().hex
            row = {
                "id": uuid.uuid4(),
                "token": hash_refresh_token(raw),
                "user_id": user_id,
                "family_id": uuid.uuid4().hex,
                "expires_at": expires,
                "revoked": False,
                "user_agent": "pybench/1.0",
                "ip_address": "127.0.0.1",
                "created_at": created,
            }
            rows.append(row)
            items.append({"raw": raw, "token": row["token"], "user_id": user_id})
        async with self.adapter._session_maker() as session:
            for i in range(0, len(rows), 1000):
                await session.execute(insert(RefreshToken), rows[i : i + 1000])
            await session.commit()
        return items

    async def sanity(self) -> None:
        """Untimed: the seeded data looks as expected."""
        uid = self.users[0]
        user = await self.adapter.get_user_by_id(uid)
        if user is None:
            raise SystemExit(f"seeded user {uid} not found: wrong --users-file or --schema?")
        perms = await self.adapter.get_user_permissions(uid)
        if len(perms) != 20:
            log(f"warning: user {uid} has {len(perms)} permissions, the seed gives 20")

    async def run(self) -> dict:
        a = self.args
        await self.sanity()
        lat: list[int] = []
        if a.op in ("create_user", "get_user", "user_permissions"):
            op = getattr(self, "op_" + a.op)
            prepare = self.prepare_create_user if a.op == "create_user" else self.user
            await self.run_for(op, prepare, a.warmup, None)
            self.errors, self.first_error = 0, None
            elapsed = await self.run_for(op, prepare, a.seconds, lat)
            rounds = 1
        else:
            op = self.op_revoke if a.op == "revoke" else self.op_rotate
            warm_n = max(32, a.concurrency * 8)
            warm = await self.store_tokens(warm_n)
            warm_took = await self.run_items(op, warm, None)
            self.errors, self.first_error = 0, None
            elapsed, rounds = 0.0, 0
            # First round sized from the warm-up's rate, to take about 1 s.
            k = int(min(1.0, a.seconds) * warm_n / max(warm_took, 1e-6))
            k = max(k, a.concurrency * 4)
            while elapsed < a.seconds:
                items = await self.store_tokens(k)
                took = await self.run_items(op, items, lat)
                elapsed += took
                rounds += 1
                # Aim at rounds of ~1 s, and none much past the requested time.
                rate = k / took if took > 0 else k
                k = int(min(1.0, max(0.2, a.seconds - elapsed)) * rate)
                k = max(k, a.concurrency * 4)
        lat.sort()
        n = len(lat)
        if self.errors:
            log(f"warning: {self.errors} failed calls (first: {self.first_error})")
        out = {
            "side": "fastapi-fullauth",
            "backend": "postgres" if a.url.startswith("postgresql") else "sqlite",
            "op": a.op,
            "concurrency": a.concurrency,
            "ops": n,
            "seconds": round(elapsed, 4),
            "ops_per_sec": round(n / elapsed, 2) if elapsed > 0 else 0.0,
            "p50_us": round(percentile(lat, 0.50), 1),
            "p99_us": round(percentile(lat, 0.99), 1),
            "errors": self.errors,
        }
        if a.op == "rotate":
            out["rotate_scope"] = a.rotate_scope
        if a.op in ("revoke", "rotate"):
            out["rounds"] = rounds
        return out


async def amain(args) -> dict:
    with open(args.users_file) as f:
        users = [uuid.UUID(line.strip()) for line in f if line.strip()]
    if not users:
        raise SystemExit(f"{args.users_file}: no user ids")
    engine = engine_for(args.url, args.schema, args.concurrency)
    try:
        bench = Bench(adapter_for(engine), engine, users, args)
        if args.op == "create_user":
            bench.hashed_password = hash_password("pybench fixed password")  # once, untimed
        return await bench.run()
    finally:
        await engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--schema")
    p.add_argument("--users-file", required=True)
    p.add_argument("--op", required=True, choices=OPS)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5, help="untimed seconds first (simple ops)")
    p.add_argument("--rotate-scope", choices=("flow", "token"), default="flow")
    args = p.parse_args()
    if args.concurrency < 1 or args.seconds <= 0:
        p.error("--concurrency must be >= 1 and --seconds > 0")
    out = asyncio.run(amain(args))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
