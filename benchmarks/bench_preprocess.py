"""How long does `to_mnist` take on a Telegram-sized photo, on one core?

Times `to_mnist` on 1280x960 JPEGs (Telegram's usual photo size, rendered by `model.synth`
and upscaled) of a plain page and of the pages that cost most (ruled and squared paper, the
paper's edge, faint pencil on a grid, textured card, a close-up), against a baseline measured
in the same run: a plain full-size decode to grayscale and resize to 28x28, the least any
photo reader does.

    python benchmarks/bench_preprocess.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from model.preprocess import to_mnist
from model.synth import make_photo

TARGET_MS = 5.0


PAGES = ("plain", "ruled", "squared", "paper_edge", "grid_pencil", "textured_card", "close_up")


def telegram_photo(seed: int = 0, kind: str = "plain") -> bytes:
    """A 1280x960 JPEG (quality 87, like Telegram's recompression) of a drawn digit."""
    rng = np.random.default_rng(seed)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    digit[6:10, 8:16] = 255
    photo = Image.open(io.BytesIO(make_photo(digit, rng, kind))).convert("RGB")
    large = photo.resize((1280, 960), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    large.save(buffer, format="JPEG", quality=87)
    return buffer.getvalue()


def decode_and_resize(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28), Image.Resampling.BILINEAR)
    return np.asarray(image)


def median_ms(function: Callable[[bytes], np.ndarray], data: bytes, repeat: int) -> float:
    function(data)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(data)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 when `to_mnist` misses the 5 ms target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    data = telegram_photo()
    rows = [("decode + resize (baseline)", median_ms(decode_and_resize, data, args.repeat))]
    rows += [
        (f"to_mnist, {kind}", median_ms(to_mnist, telegram_photo(kind=kind), args.repeat))
        for kind in PAGES
    ]
    print(f"1280x960 JPEGs, median of {args.repeat} runs, one core")
    print(f"{'step':<28}{'ms':>8}")
    for name, ms in rows:
        print(f"{name:<28}{ms:>8.2f}")
    worst = max(ms for _, ms in rows[1:])
    verdict = "met" if worst <= TARGET_MS else "MISSED"
    print(f"target <= {TARGET_MS:.1f} ms on every page: {verdict}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
