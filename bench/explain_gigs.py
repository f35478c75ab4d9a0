"""EXPLAIN (ANALYZE, BUFFERS) of the statements /gigs runs for each filter mix of bench/web.py, on a database a
``bench/web.py --keep`` run left: execution time, shared buffers read, and the scans chosen.

    .venv/bin/python bench/explain_gigs.py [--plans]
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import gig_search  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

SCAN = re.compile(r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)( Backward)? (using|on) \S+")


async def explain(url: str, show_plans: bool) -> None:
    from marketplace.gigs.search import open_gigs_statements, parse_gig_filters

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            for name, path in gig_search.scenarios().items():
                params = dict(parse_qsl(urlsplit(path).query))
                filters = parse_gig_filters(params, major_units=True)
                statements = open_gigs_statements(filters, now=datetime.now(UTC), dialect="postgresql")
                for n, (query, params) in enumerate(statements):
                    state = query.compile(dialect=conn.dialect).construct_expanded_state(params)
                    values = tuple(v.value if isinstance(v, enum.Enum) else v
                                   for v in (state.parameters[k] for k in state.positiontup or []))
                    sql = state.statement
                    plan = [r[0] for r in await conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, values)]
                    timing = next(line for line in plan if "Execution Time" in line).split(":")[1].strip()
                    buffers = next((line.strip() for line in plan if "Buffers:" in line), "")
                    scans = sorted({m.group(0) for line in plan for m in [SCAN.search(line)] if m})
                    label = name + (f" #{n + 1}" if n else "")
                    print(f"{label:<32} {timing:>10}  {buffers[:40]:<40} {'; '.join(scans)}")
                    if show_plans:
                        print("\n".join("    " + line for line in plan))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--database", default="postpact_bench_web")
    args = parser.parse_args()
    url = sa.engine.make_url(gig_search.SERVER).set(database=args.database).render_as_string(hide_password=False)
    try:
        asyncio.run(explain(url, args.plans))
    except Exception as exc:  # no bench database: say how to make one rather than fail `make bench`
        if "does not exist" not in str(exc):
            raise
        print(f"database {args.database} not found: run `bench/web.py --keep` first")


if __name__ == "__main__":
    main()
