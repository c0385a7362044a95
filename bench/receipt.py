"""Decoding time of a receipt's photo: p50/p99 of `bot.receipt.decode` (bytes to the codes' texts) over phone-like
photos of a printed receipt (turned, from near and afar, blurred, noisy, a QR code with a portal link or a
barcode), at the size a chat app sends (about 1,280 pixels a side) and at a phone camera's full 12 megapixels.

Run: `.venv/bin/python -m bench.receipt [PHOTOS]`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from bot.receipt import code_in, decode
from tests.receipts import page, photographed

CODE = "000.00.37.H37-250804-0012"
LINK = "https://dichvucong.langson.gov.vn/tra-cuu-ho-so?maHoSo=" + CODE


def photos(count: int, seed: int = 3) -> list[tuple[str, bytes]]:
    """`count` photos: half at chat size, half at a camera's full size (scale about 3.3 of the 150 dpi page)."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        full = n % 2 == 1
        barcode = n % 5 == 4
        how = {
            "angle": rng.uniform(-30, 30) + rng.choice((0, 0, 90, 180)),
            "scale": rng.uniform(2.6, 3.3) if full else rng.uniform(0.55, 1.1),
            "blur": rng.uniform(0.3, 1.0) * (3 if full else 1),
            "noise": rng.uniform(3, 10),
        }
        data = photographed(page(CODE if barcode else LINK, barcode=barcode), seed=n, **how)  # type: ignore[arg-type]
        made.append(("full" if full else "chat", data))
    return made


def main(count: int = 40) -> None:
    made = photos(count)
    decode(made[0][1])  # the first call loads the library
    times: dict[str, list[float]] = {"chat": [], "full": []}
    read = 0
    for kind, data in made:
        started = time.perf_counter()
        found = code_in(decode(data))
        times[kind].append((time.perf_counter() - started) * 1000)
        read += found is not None
    for kind, values in times.items():
        values.sort()
        p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
        print(
            f"receipt ({kind}): photos={len(values)}, p50_ms={statistics.median(values):.1f}, p99_ms={p99:.1f},"
            f" max_ms={values[-1]:.1f}"
        )
    print(f"receipt: read {read} of {len(made)} photos")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
