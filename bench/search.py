"""Name query latency inside the process: p50/p99 of `CentreService.search` over a realistic query mix.

Goal (issue 2): p99 under 2 ms. Run: `.venv/bin/python -m bench.search`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.centres import CentreService
from bot.registry import load_province
from storage.centres import CentresRepo
from storage.db import Database

QUERIES = [
    "Hữu Lũng",
    "Quý Hoà",
    "xã Đồng Tân, huyện Hữu Lũng",
    "phường Vĩnh Trại",
    "Huu Lungg",
    "Sơn",
    "hello",
    "Đồng Tân Hữu Lũng",
    "xã Hồng Phong, huyện Bình Gia",
    "x" * 4096,
]


async def measure(rounds: int = 2000) -> dict[str, float]:
    """Run every query `rounds` times; return latency percentiles in milliseconds."""
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "bench.db")
        repo = CentresRepo(db)
        await repo.store_registry(load_province(20), "bench")
        service = await CentreService.create(repo, 20)
        for query in QUERIES:
            service.search(query)
        samples: list[float] = []
        for _ in range(rounds):
            for query in QUERIES:
                start = time.perf_counter()
                service.search(query)
                samples.append((time.perf_counter() - start) * 1000)
        await db.close()
    samples.sort()
    return {
        "queries": float(len(samples)),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99)],
        "max_ms": samples[-1],
    }


def main() -> None:
    """Print the result as one line."""
    result = asyncio.run(measure())
    print("search: " + ", ".join(f"{k}={v:.3f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
