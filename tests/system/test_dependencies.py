"""Every third-party module the code imports comes from a distribution pyproject.toml declares:
the product's from `dependencies`; test support's, tests' and benchmarks' from those or the `dev`
extra. A module that arrives only as another package's dependency can vanish with that package's
next release."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

from testkit import ROOT

OWN = {"bot", "model", "testkit", "tests", "benchmarks"}


def _declared(requirements: list[str]) -> set[str]:
    return {
        _normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])
        for requirement in requirements
    }


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported(folder: str) -> set[str]:
    """Top-level names of every module imported anywhere under `folder` (functions included)."""
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - OWN - {"__future__"}


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PRODUCT = _declared(PROJECT["dependencies"])
DEVELOPMENT = PRODUCT | _declared(PROJECT["optional-dependencies"]["dev"])


@pytest.mark.parametrize(
    ("folders", "declared"),
    [(["bot", "model"], PRODUCT), (["testkit", "tests", "benchmarks"], DEVELOPMENT)],
    ids=["product", "tests-and-benchmarks"],
)
def test_every_imported_module_comes_from_a_declared_distribution(
    folders: list[str], declared: set[str]
) -> None:
    providers = packages_distributions()
    undeclared = {}
    imported = set().union(*(_imported(folder) for folder in folders))
    for module in sorted(imported):
        distributions = {_normal(d) for d in providers.get(module, [])}
        if not distributions & declared:
            undeclared[module] = sorted(distributions) or ["not installed"]
    assert undeclared == {}
