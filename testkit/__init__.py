"""Test support: photo generators, stand-ins for Telegram and notify.run, drivers of the bot.

Imported by the tests and the benchmarks; never shipped in the product's wheel.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root: where `python -m bot` and the benchmarks run from."""
