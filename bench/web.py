"""Web throughput of PostPact against a bare Litestar app on the same server and venv, driven by wrk.

Loads the bench data (bench/gig_search.py's 100k gigs and 20k creators; bench/deal_pages.py's brand with its deals
over 200 creators) into a throw-away PostgreSQL database (``postpact_bench_web``), signs a creator and a brand owner
in, starts a bare Litestar plaintext app (bench/bare_litestar.py) and PostPact (production settings, PostgreSQL and
Redis) with the chosen server, and drives each request with ``wrk`` (``--connections`` connections,
``--seconds`` each, one after another). Prints req/s, p50, p99, errors and the share of bare Litestar's req/s for
each request, then a mixed signed-in load (creator and brand pages, badge polls, deal pages) from a wrk Lua script.

The stack's own floor (``--floors``, on by default in the main table: ~5 x ``--seconds``; ``--no-floors`` skips it;
``--only`` filters it by name unless ``--floors`` is given): bench/stack_floor.py, a minimal Litestar app with no
PostPact code, served like PostPact (same server, workers, database, Redis, pool size) and signed in through its
``/login``. Its rows, read against the PostPact rows: "floor: session" (a Redis session read alone: any signed-in
request), "floor: fragment" (session + one indexed count + a one-line template: the badge poll), "floor: listing"
(anonymous: 24 newest open gigs joined to their brand + the total, ORM, a Jinja page), "floor: listing signed in"
(session + that) and "floor: listing signed in, no count" (without the total, which PostPact's /gigs does not show:
the floor of signed-in /gigs).

``--scaling`` also measures bare Litestar, plain ``/gigs`` and the mixed load for every server in ``--servers``
with 1 and 2 workers, each as a share of that server's bare app and of the same server with one worker.
Run ``make bench`` once (it installs wrk from Debian when missing), or ``apt-get install wrk``.

    .venv/bin/python bench/web.py [--seconds 10] [--connections 32] [--server uvicorn|granian] [--workers 1]
                                  [--scaling] [--servers uvicorn,granian] [--only gigs] [--keep] [--reuse]
                                  [--floors | --no-floors]
                                  [--pool-size N] [--database NAME]   # one database per parallel run
                                  [--against /path/to/older/export]   # before/after, measured in turns

``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``) is flushed whenever PostPact starts: give a run made
while another one goes on its own Redis database, or the other run's sessions vanish and its pages redirect.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import deal_pages  # noqa: E402
import gig_search  # noqa: E402
import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine  # noqa: E402

from tests.support import db as dbsupport  # noqa: E402

SERVER = gig_search.SERVER
DB_NAME = "postpact_bench_web"
PASSWORD = gig_search.PASSWORD
SECRET = gig_search.SECRET
BRAND_EMAIL = "owner@bench.test"
DEAL_CREATOR_EMAIL = "c0@bench.test"
CREATOR_EMAIL = "bench-creator@bench.test"  # made by gig_search.make_bench_creator
#: Database connections per PostPact process (``--pool-size``, default: wrk's connections). A pool smaller than the
#: requests in flight opens and closes overflow connections all the time: one request in ten paid for a new
#: PostgreSQL backend (and re-prepared its statements) at 32 connections with a pool of 10.
POOL_SIZE = {"size": 10}


# --- data -----------------------------------------------------------------------------------------------------------


async def load_deals(url: str, deals: int) -> None:
    """bench/deal_pages.py's brand and deals, then real passwords for its owner and its first creator."""
    from marketplace.security import Passwords

    engine = create_async_engine(url)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as session, session.begin():
            await deal_pages.prepare(session, deals)
            await session.execute(
                sa.text("UPDATE user_account SET password_hash = :h WHERE email IN (:a, :b)"),
                {"h": Passwords().hash(PASSWORD), "a": BRAND_EMAIL, "b": DEAL_CREATOR_EMAIL},
            )
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def deal_ids(url: str) -> tuple[list[str], list[str]]:
    """A few deals the brand owner sees and a few of the deal creator's own."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            brand = [str(r[0]) for r in await conn.execute(sa.text(
                "SELECT c.id FROM collaboration c JOIN brand_member m ON m.brand_id = c.brand_id "
                "JOIN user_account u ON u.id = m.user_id WHERE u.email = :e ORDER BY c.id DESC LIMIT 4"),
                {"e": BRAND_EMAIL})]
            creator = [str(r[0]) for r in await conn.execute(sa.text(
                "SELECT c.id FROM collaboration c JOIN creator cr ON cr.id = c.creator_id "
                "JOIN user_account u ON u.id = cr.user_id WHERE u.email = :e ORDER BY c.id DESC LIMIT 4"),
                {"e": DEAL_CREATOR_EMAIL})]
    finally:
        await engine.dispose()
    return brand, creator


async def prepare_database(args: argparse.Namespace) -> str:
    if args.reuse:
        url = sa.engine.make_url(SERVER).set(database=args.database).render_as_string(hide_password=False)
        print(f"database {args.database}: reused as it is (--reuse)")
        dbsupport.migrate(url)
        return url
    url = dbsupport.recreate_postgres_database(SERVER, args.database)
    print(f"database {args.database}: migrating, loading {args.gigs:,} gigs, {args.creators:,} creators, "
          f"{args.deals:,} deals (not timed)", flush=True)
    dbsupport.migrate(url)
    started = time.perf_counter()
    await gig_search.load(url, args.gigs, args.creators)
    await gig_search.make_bench_creator(url)
    await load_deals(url, args.deals)
    print(f"loaded in {time.perf_counter() - started:.1f} s", flush=True)
    return url


# --- servers --------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(server: str, target: str, port: int, workers: int, *, factory: bool) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), target, "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
                "--loop", "uvloop", "--http", "httptools"]
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", *(["--factory"] if factory else []),
                target, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--log-level", "warning", "--no-access-log", "--loop", "uvloop"]
    raise ValueError(f"unknown server {server}")


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    base: str

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a server process and its worker processes. Under a shared machine
    req/s moves with everybody else's load; the server's own CPU time per request moves much less."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += (int(stats[current][11]) + int(stats[current][12])) / os.sysconf("SC_CLK_TCK")
        todo.extend(children.get(current, []))
    return total


def start(name: str, command: list[str], env: dict[str, str], probe: str, cwd: Path = ROOT) -> Running:
    port = int(command[command.index("--port") + 1])
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            if httpx.get(base + probe, timeout=1).status_code == 200:
                return Running(name, process, base)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    Running(name, process, base).stop()
    raise RuntimeError(f"{name} did not start")


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def postpact_env(url: str, var_dir: str, port: int) -> dict[str, str]:
    env = {**os.environ, "POSTPACT_ENV": "production", "SECRET_KEY": SECRET, "DATABASE_URL": url,
           "POSTPACT_VAR_DIR": var_dir, "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "DATABASE_POOL_SIZE": str(POOL_SIZE["size"]), "REDIS_URL": redis_url()}
    import redis

    redis.Redis.from_url(env["REDIS_URL"], socket_connect_timeout=2).flushdb()
    return env


def start_bare(server: str, workers: int) -> Running:
    port = free_port()
    return start(f"bare Litestar ({server}, {workers}w)",
                 server_command(server, "bench.bare_litestar:app", port, workers, factory=False),
                 {**os.environ, "PYTHONPATH": str(ROOT)}, "/")


def start_floor(server: str, workers: int, url: str) -> Running:
    """bench/stack_floor.py with PostPact's database, Redis and pool size (its sessions under their own prefix)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "REDIS_URL": redis_url(),
           "DATABASE_POOL_SIZE": str(POOL_SIZE["size"])}
    return start(f"stack floor ({server}, {workers}w)",
                 server_command(server, "bench.stack_floor:create_app", port, workers, factory=True), env, "/listing")


def start_postpact(server: str, workers: int, url: str, var_dir: str, tree: Path = ROOT) -> Running:
    """PostPact from this work tree, or from ``tree`` (another checkout: its own code and templates)."""
    port = free_port()
    env = postpact_env(url, var_dir, port)
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree)
    command = server_command(server, "marketplace.app:create_app", port, workers, factory=True)
    return start(f"PostPact ({server}, {workers}w, {tree})", command, env, "/healthz", cwd=tree)


# --- signing in -----------------------------------------------------------------------------------------------------


def cookie_header(base: str, email: str) -> str:
    """Sign in through the real form and return the Cookie header a browser would send afterwards."""
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get("/signin")
        token = client.cookies.get("postpact_csrf")
        response = client.post("/signin", data={"email": email, "password": PASSWORD, "_csrf_token": token})
        assert response.status_code == 303, (email, response.status_code, response.text[:300])
        client.get("/")  # the page after sign-in (the CSRF cookie follows the rotated session)
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def floor_cookie(base: str, email: str) -> str:
    """Sign in to the floor app: the Cookie header of its session."""
    response = httpx.post(base + "/login", params={"email": email}, timeout=30)
    assert response.status_code == 200, (email, response.status_code, response.text[:300])
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


def deep_gigs_path(base: str, cookie: str, hops: int) -> str:
    path = "/gigs"
    with httpx.Client(base_url=base, timeout=30, headers={"Cookie": cookie}) as client:
        for _ in range(hops):
            page = client.get(path)
            match = re.search(r'href="(/gigs\?[^"]*cursor=[^"]+)"', page.text)
            assert match, "no next page"
            path = match.group(1).replace("&amp;", "&")
    return path


# --- wrk ------------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    #: The server's CPU milliseconds per request (all its processes), when its pid was given.
    cpu_ms: float | None = None


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert match, text
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(name: str, base: str, path: str, args: argparse.Namespace, *, headers: dict[str, str] | None = None,
        script: str | None = None, seconds: float | None = None, pid: int | None = None) -> Result:
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds or args.seconds:g}s",
               "--latency", "--timeout", "10s"]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    if script:
        command += ["-s", script]
    cpu_before = process_tree_cpu(pid) if pid else 0.0
    out = subprocess.run([*command, base + path], capture_output=True, text=True, check=True).stdout
    cpu = process_tree_cpu(pid) - cpu_before if pid else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in m.groups())
    return Result(name, rps, p50, p99, total, errors, cpu * 1000 / total if cpu is not None and total else None)


LUA = """
local paths = {%(paths)s}
local cookies = {%(cookies)s}
local hx = {%(hx)s}
local n = 0
setup = function(thread) thread:set("offset", math.random(1, #paths)) end
request = function()
  n = n + 1
  local k = ((n + (offset or 0)) %% #paths) + 1
  local headers = {["Cookie"] = cookies[k]}
  if hx[k] then headers["HX-Request"] = "true" end
  return wrk.format("GET", paths[k], headers)
end
"""


def lua_script(items: list[tuple[str, str, bool]], directory: str) -> str:
    def lua(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    path = Path(directory) / "mixed.lua"
    path.write_text(LUA % {"paths": ", ".join(lua(p) for p, _, _ in items),
                           "cookies": ", ".join(lua(c) for _, c, _ in items),
                           "hx": ", ".join("true" if h else "false" for _, _, h in items)})
    return str(path)


def gig_requests(deep: str) -> dict[str, str]:
    return {**{f"/gigs {name}": path for name, path in gig_search.scenarios().items()}, "/gigs page 11 (keyset)": deep}


def mixed_items(creator: str, deal_creator: str, brand: str, brand_deals: list[str],
                creator_deals: list[str]) -> list[tuple[str, str, bool]]:
    """Creator and brand pages, badge polls (htmx) and deal pages, in the proportions a busy hour might have."""
    items: list[tuple[str, str, bool]] = [
        ("/gigs", creator, False), ("/gigs?q=serum", creator, False), ("/gigs?niche=skincare&sort=fee", creator, False),
        ("/notifications/badge", creator, True), ("/creator", deal_creator, False),
        ("/creator/collaborations", deal_creator, False), ("/notifications/badge", deal_creator, True),
        ("/brand", brand, False), ("/brand/collaborations", brand, False), ("/brand/gigs", brand, False),
        ("/notifications/badge", brand, True), ("/notifications/badge", brand, True),
    ]
    items += [(f"/collaborations/{d}", brand, False) for d in brand_deals[:3]]
    items += [(f"/collaborations/{d}", deal_creator, False) for d in creator_deals[:2]]
    return items


def print_table(results: list[Result], bare: Result) -> None:
    print(f"\n{'request':<44}{'req/s':>9}{'p50':>10}{'p99':>10}{'share of bare':>15}{'errors':>8}"
          f"{'CPU ms/req':>12}{'CPU share':>11}")
    for r in results:
        cpu = f"{r.cpu_ms:>12.3f}{bare.cpu_ms / r.cpu_ms:>10.2%}" if r.cpu_ms and bare.cpu_ms else ""
        print(f"{r.name:<44}{r.rps:>9.0f}{r.p50_ms:>8.1f}ms{r.p99_ms:>8.1f}ms{r.rps / bare.rps:>14.2%}"
              f"{r.errors:>8}{cpu}")
    print("CPU ms/req: the server processes' own CPU time per request (PostgreSQL and Redis not included); "
          "CPU share: bare Litestar's CPU per request over this one's, steadier than req/s on a shared machine.")


def check_pages(base: str, items: list[tuple[str, str, bool]]) -> None:
    """Every page of the load answers 200 before it is timed (a 303 to /signin would look fast)."""
    for path, cookie, hx in items:
        headers = {"Cookie": cookie, **({"HX-Request": "true"} if hx else {})}
        response = httpx.get(base + path, headers=headers, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


#: The floor app's rows: name, path, signed in.
FLOORS = [
    ("floor: session", "/session", True),
    ("floor: fragment", "/fragment", True),
    ("floor: listing", "/listing", False),
    ("floor: listing signed in", "/listing-signed-in", True),
    ("floor: listing signed in, no count", "/listing-signed-in-no-count", True),
]


def floors(args: argparse.Namespace, url: str) -> list[Result]:
    """The stack's floor (bench/stack_floor.py) for each kind of request, signed in as the /gigs rows' creator."""
    rows = FLOORS if args.floors or not args.only else [f for f in FLOORS if args.only in f[0]]
    if args.floors is False or not rows:
        return []
    results: list[Result] = []
    app = start_floor(args.server, args.workers, url)
    try:
        cookie = floor_cookie(app.base, CREATOR_EMAIL)
        for _, path, signed_in in rows:
            response = httpx.get(app.base + path, headers={"Cookie": cookie} if signed_in else {}, timeout=30)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
        wrk("warm-up", app.base, "/listing-signed-in-no-count", args, headers={"Cookie": cookie}, seconds=2)
        for name, path, signed_in in rows:
            headers = {"Cookie": cookie} if signed_in else {}
            results.append(wrk(name, app.base, path, args, headers=headers, pid=app.process.pid))
            print(f"  {name}: {results[-1].rps:.0f} req/s, {results[-1].cpu_ms or 0:.2f} CPU ms/req, "
                  f"{results[-1].errors} errors (load {loadavg()})", flush=True)
    finally:
        app.stop()
    return results


def against_floors(results: list[Result]) -> None:
    """PostPact's rows as a share of the floor of their kind of request (req/s, and CPU per request)."""
    by_name = {r.name: r for r in results}
    pairs = [("/gigs newest", "floor: listing signed in, no count"),
             ("/notifications/badge (htmx, creator)", "floor: fragment"),
             ("/notifications/badge (htmx, brand)", "floor: fragment")]
    lines = []
    for mine, floor in pairs:
        if mine in by_name and floor in by_name:
            m, f = by_name[mine], by_name[floor]
            cpu = f", CPU per request x{m.cpu_ms / f.cpu_ms:.2f} the floor's" if m.cpu_ms and f.cpu_ms else ""
            lines.append(f"  {mine}: {m.rps / f.rps:.1%} of '{floor}' req/s{cpu}")
    if lines:
        print("\nagainst the stack's floor:")
        print("\n".join(lines))


# --- the run --------------------------------------------------------------------------------------------------------


def main_table(args: argparse.Namespace, url: str, var_dir: str, brand_deals: list[str],
               creator_deals: list[str]) -> None:
    results: list[Result] = []
    bare = start_bare(args.server, args.workers)
    try:
        wrk("warm-up", bare.base, "/", args, seconds=2)
        bare_result = wrk("bare Litestar plaintext", bare.base, "/", args, pid=bare.process.pid)
    finally:
        bare.stop()
    results.append(bare_result)
    results += floors(args, url)
    app = start_postpact(args.server, args.workers, url, var_dir)
    try:
        creator = cookie_header(app.base, CREATOR_EMAIL)
        deal_creator = cookie_header(app.base, DEAL_CREATOR_EMAIL)
        brand = cookie_header(app.base, BRAND_EMAIL)
        deep = deep_gigs_path(app.base, creator, 10)
        single: list[tuple[str, str, dict[str, str]]] = [
            ("/ anonymous", "/", {}),
            ("/healthz", "/healthz", {}),
            ("/readyz", "/readyz", {}),
            *((name, path, {"Cookie": creator}) for name, path in gig_requests(deep).items()),
            ("/notifications/badge (htmx, creator)", "/notifications/badge",
             {"Cookie": creator, "HX-Request": "true"}),
            ("/notifications/badge (htmx, brand)", "/notifications/badge", {"Cookie": brand, "HX-Request": "true"}),
            ("/brand/collaborations (brand)", "/brand/collaborations", {"Cookie": brand}),
            ("deal page (brand)", f"/collaborations/{brand_deals[0]}", {"Cookie": brand}),
        ]
        if args.only:
            single = [s for s in single if args.only in s[0]]
        for _, path, headers in single:
            response = httpx.get(app.base + path, headers=headers, timeout=30)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
        items = mixed_items(creator, deal_creator, brand, brand_deals, creator_deals)
        check_pages(app.base, items)
        wrk("warm-up", app.base, "/gigs", args, headers={"Cookie": creator}, seconds=3)
        for name, path, headers in single:
            results.append(wrk(name, app.base, path, args, headers=headers, pid=app.process.pid))
            # wrk counts a 3xx as a success: a session lost during the run (another run's start-up flushing the
            # same Redis database, say) would time the redirect to /signin. Say so in the row.
            status = httpx.get(app.base + path, headers=headers, timeout=30).status_code
            if status != 200:
                results[-1].name += f" [{status} after]"
            print(f"  {results[-1].name}: {results[-1].rps:.0f} req/s, {results[-1].cpu_ms or 0:.2f} CPU ms/req "
                  f"(load {loadavg()})", flush=True)
        if not args.only or "mixed" in args.only:
            script = lua_script(items, var_dir)
            results.append(wrk(f"mixed signed-in ({len(items)} page kinds)", app.base, "/", args, script=script,
                               pid=app.process.pid))
            check_pages(app.base, items)
    finally:
        app.stop()
    print(f"\nserver: {args.server}, {args.workers} worker(s), pool {POOL_SIZE['size']}; wrk {args.threads} threads, "
          f"{args.connections} "
          f"connections, {args.seconds:g} s each; load average after: {loadavg()}")
    print_table(results, bare_result)
    against_floors(results)
    gigs = [r for r in results if r.name.startswith("/gigs")]
    if gigs:
        plain = next((r for r in gigs if r.name == "/gigs newest"), gigs[0])
        worst = min(gigs, key=lambda r: r.rps)
        print(f"\n/gigs: slowest mix '{worst.name}' {worst.rps / bare_result.rps:.2%} of bare, "
              f"plain listing / slowest = x{plain.rps / worst.rps:.2f}; highest p99 "
              f"{max(r.p99_ms for r in gigs):.1f} ms")
        deep_r = next((r for r in gigs if "keyset" in r.name), None)
        if deep_r:
            print(f"page 11 via keyset vs page 1: p50 x{deep_r.p50_ms / plain.p50_ms:.2f}, "
                  f"req/s x{plain.rps / deep_r.rps:.2f} slower")


def scaling(args: argparse.Namespace, url: str, var_dir: str, brand_deals: list[str],
            creator_deals: list[str]) -> None:
    rows: list[tuple[str, int, Result, Result, Result]] = []
    for server in args.servers.split(","):
        for workers in (1, 2):
            bare = start_bare(server, workers)
            try:
                wrk("warm-up", bare.base, "/", args, seconds=2)
                b = wrk("bare", bare.base, "/", args)
            finally:
                bare.stop()
            app = start_postpact(server, workers, url, var_dir)
            try:
                creator = cookie_header(app.base, CREATOR_EMAIL)
                deal_creator = cookie_header(app.base, DEAL_CREATOR_EMAIL)
                brand = cookie_header(app.base, BRAND_EMAIL)
                items = mixed_items(creator, deal_creator, brand, brand_deals, creator_deals)
                check_pages(app.base, items)
                wrk("warm-up", app.base, "/gigs", args, headers={"Cookie": creator}, seconds=3)
                g = wrk("/gigs", app.base, "/gigs", args, headers={"Cookie": creator})
                m = wrk("mixed", app.base, "/", args, script=lua_script(items, var_dir))
            finally:
                app.stop()
            rows.append((server, workers, b, g, m))
            print(f"  {server} {workers}w: bare {b.rps:.0f}, /gigs {g.rps:.0f}, mixed {m.rps:.0f} req/s "
                  f"(load {loadavg()})", flush=True)
    print(f"\nscaling (wrk {args.connections} connections, {args.seconds:g} s each; load average after: {loadavg()})")
    print(f"{'server':<10}{'workers':>8}{'bare req/s':>12}{'/gigs req/s':>13}{'p99':>9}{'share':>8}"
          f"{'mixed req/s':>13}{'p99':>9}{'errors':>8}{'/gigs vs 1w':>13}{'mixed vs 1w':>13}")
    one = {s: (g, m) for s, w, _, g, m in rows if w == 1}
    for server, workers, b, g, m in rows:
        print(f"{server:<10}{workers:>8}{b.rps:>12.0f}{g.rps:>13.0f}{g.p99_ms:>7.0f}ms{g.rps / b.rps:>8.2%}"
              f"{m.rps:>13.0f}{m.p99_ms:>7.0f}ms{m.errors:>8}{g.rps / one[server][0].rps:>12.2f}x"
              f"{m.rps / one[server][1].rps:>12.2f}x")


def paired(args: argparse.Namespace, url: str, var_dir: str, brand_deals: list[str],
           creator_deals: list[str]) -> None:
    """Before/after in one run: PostPact from ``--against`` (an export of an older commit) and from this tree,
    served side by side and measured in turns, request by request, so both meet the same load on the machine."""
    bare = start_bare(args.server, args.workers)
    try:
        wrk("warm-up", bare.base, "/", args, seconds=2)
        bare_before = wrk("bare", bare.base, "/", args, pid=bare.process.pid)
    finally:
        bare.stop()
    apps = {"before": start_postpact(args.server, args.workers, url, var_dir, Path(args.against).resolve())}
    apps["after"] = start_postpact(args.server, args.workers, url, var_dir)
    rows: list[tuple[str, Result, Result]] = []
    try:
        cookies = {k: {who: cookie_header(app.base, email) for who, email in
                       (("creator", CREATOR_EMAIL), ("deal_creator", DEAL_CREATOR_EMAIL), ("brand", BRAND_EMAIL))}
                   for k, app in apps.items()}
        requests = [("/gigs newest", "/gigs", "creator", False),
                    ("/gigs full text", "/gigs?q=serum", "creator", False),
                    ("/gigs full text + platform", "/gigs?q=vegan+protein&platform=tiktok", "creator", False),
                    ("/gigs everything", gig_search.scenarios()["everything"], "creator", False),
                    ("/notifications/badge (htmx)", "/notifications/badge", "creator", True),
                    ("deal page (brand)", f"/collaborations/{brand_deals[0]}", "brand", False)]
        for name, path, who, hx in requests:
            measured = {}
            for k, app in apps.items():
                headers = {"Cookie": cookies[k][who], **({"HX-Request": "true"} if hx else {})}
                wrk("warm-up", app.base, path, args, headers=headers, seconds=1)
                measured[k] = wrk(name, app.base, path, args, headers=headers, pid=app.process.pid)
            rows.append((name, measured["before"], measured["after"]))
            print(f"  {name}: before {measured['before'].rps:.0f}, after {measured['after'].rps:.0f} req/s "
                  f"(load {loadavg()})", flush=True)
        measured = {}
        for k, app in apps.items():
            c = cookies[k]
            items = mixed_items(c["creator"], c["deal_creator"], c["brand"], brand_deals, creator_deals)
            measured[k] = wrk("mixed", app.base, "/", args, script=lua_script(items, var_dir), pid=app.process.pid)
        rows.append((f"mixed signed-in ({len(items)} page kinds)", measured["before"], measured["after"]))
    finally:
        for app in apps.values():
            app.stop()
    bare = start_bare(args.server, args.workers)
    try:
        bare_after = wrk("bare", bare.base, "/", args)
    finally:
        bare.stop()
    base_rps = (bare_before.rps + bare_after.rps) / 2
    print(f"\nbefore: {args.against}; after: this tree; {args.server}, {args.workers} worker(s), wrk "
          f"{args.connections} connections, {args.seconds:g} s each, in turns; bare Litestar {bare_before.rps:.0f} "
          f"and {bare_after.rps:.0f} req/s (start, end); load average after: {loadavg()}")
    print(f"{'request':<36}{'before':>9}{'p99':>9}{'share':>8}{'after':>9}{'p99':>9}{'share':>8}{'after/before':>14}"
          f"{'errors':>8}{'CPU ms before':>15}{'after':>8}{'CPU share after':>17}")
    for name, b, a in rows:
        cpu = (f"{b.cpu_ms:>15.3f}{a.cpu_ms:>8.3f}{bare_before.cpu_ms / a.cpu_ms:>17.2%}"
               if a.cpu_ms and b.cpu_ms and bare_before.cpu_ms else "")
        print(f"{name:<36}{b.rps:>9.0f}{b.p99_ms:>7.0f}ms{b.rps / base_rps:>8.2%}{a.rps:>9.0f}{a.p99_ms:>7.0f}ms"
              f"{a.rps / base_rps:>8.2%}{a.rps / b.rps:>13.2f}x{a.errors + b.errors:>8}{cpu}")


async def prepare(args: argparse.Namespace) -> tuple[str, list[str], list[str]]:
    url = await prepare_database(args)
    brand_deals, creator_deals = await deal_ids(url)
    return url, brand_deals, creator_deals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigs", type=int, default=100_000)
    parser.add_argument("--creators", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "granian"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scaling", action="store_true", help="also 1 vs 2 workers for every --servers")
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--only", default="", help="only the requests whose name contains this")
    parser.add_argument("--pool-size", type=int, default=0, help="database connections per process (default: "
                        "--connections)")
    parser.add_argument("--floors", action=argparse.BooleanOptionalAction, default=None,
                        help="the stack's floor rows (bench/stack_floor.py) in the main table (default: on, filtered "
                        "by --only; --floors: all of them whatever --only says)")
    parser.add_argument("--no-table", action="store_true", help="skip the per-request table (with --scaling)")
    parser.add_argument("--against", default="", help="before/after: an export of an older commit to compare with")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for --reuse)")
    parser.add_argument("--database", default=DB_NAME, help="the throw-away database's name (one per parallel run)")
    parser.add_argument("--reuse", action="store_true",
                        help="use the database a --keep run left (and keep it: other runs may be using it)")
    args = parser.parse_args()
    POOL_SIZE["size"] = args.pool_size or args.connections
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    print(f"load average before: {loadavg()} ({os.cpu_count()} CPUs)")
    url, brand_deals, creator_deals = asyncio.run(prepare(args))
    try:
        with tempfile.TemporaryDirectory() as var_dir:
            if args.against:
                paired(args, url, var_dir, brand_deals, creator_deals)
            elif not args.no_table:
                main_table(args, url, var_dir, brand_deals, creator_deals)
            if args.scaling:
                scaling(args, url, var_dir, brand_deals, creator_deals)
    finally:
        if not (args.keep or args.reuse):  # a reused database is not this run's to drop
            dbsupport.drop_postgres_database(SERVER, args.database)


if __name__ == "__main__":
    main()

