"""CI's guard: with REQUIRE_MNIST=1 a missing MNIST fails the tests that need it, not skips them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

NEEDS_MNIST = "def test_needs_mnist(mnist_dir):\n    assert mnist_dir.is_dir()\n"


@pytest.mark.parametrize(("required", "outcome"), [("1", {"errors": 1}), ("", {"skipped": 1})])
def test_a_missing_mnist_skips_unless_required(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    required: str,
    outcome: dict[str, int],
) -> None:
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("REQUIRE_MNIST", required)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(NEEDS_MNIST)

    # The suite's conftest as a plugin; hypothesis's plugin alone would take a second to load.
    result = pytester.runpytest_inprocess(
        "-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rfEs"
    )

    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*MNIST files not found in*nowhere*"])
