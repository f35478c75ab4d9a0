"""CPU time of local processes (the database's server processes, say) read from /proc: steadier than wall time on a
shared machine."""

from __future__ import annotations

from pathlib import Path


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system clock ticks used so far by each process still running (divide by SC_CLK_TCK for seconds)."""
    ticks: dict[int, int] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks
