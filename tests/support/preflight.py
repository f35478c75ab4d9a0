"""`make test` with CI=true: fail loudly, before any test runs, if a required service or tool is missing."""

from __future__ import annotations

import os
import shutil
import sys

from tests.support.db import check_services


def main() -> int:
    problems = check_services(
        os.environ.get("TEST_POSTGRES_URL") or os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1/test",
        os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15",
    )
    if not os.path.exists("/usr/bin/chromium") and not shutil.which("chromium"):
        problems.append("Chromium: /usr/bin/chromium is missing (apt-get install -y chromium)")
    if problems:
        print("CI=true needs these, and they are not available:", *problems, sep="\n  - ", file=sys.stderr)
        return 1
    print("preflight: PostgreSQL, Redis and Chromium are available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
