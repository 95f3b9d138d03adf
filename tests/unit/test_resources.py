"""config/resources.py: the files the code reads resolve in a checkout, and setup.py ships them."""

from __future__ import annotations

import ast
import glob

import pytest

from config import ConfigError
from config.resources import IS_CHECKOUT, REPO_ROOT, SHIPPED_RESOURCES, resource_path


def test_setup_ships_what_config_resources_resolves() -> None:
    """setup.py cannot import the package it builds, so it keeps its own copy of the list."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text(encoding="utf-8"))
    (shipped,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHIPPED_RESOURCES"
    ]
    assert tuple(shipped) == SHIPPED_RESOURCES


def test_every_shipped_pattern_matches_files_of_the_checkout() -> None:
    assert IS_CHECKOUT
    for pattern in SHIPPED_RESOURCES:
        assert glob.glob(str(REPO_ROOT / pattern)), pattern


def test_a_checkout_reads_its_own_files_and_names_both_places_when_missing() -> None:
    assert resource_path("docs/bi.md") == REPO_ROOT / "docs" / "bi.md"
    with pytest.raises(ConfigError, match=r"docs/nope\.md is not in this installation"):
        resource_path("docs/nope.md")
