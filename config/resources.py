"""Where the files the code reads at run time are, in a checkout and in an installed wheel.

A checkout (``pip install -e .``, ``make setup``) reads them where they are kept:
``deploy/clickhouse/migrations/``, ``docs/bi.md``, ``deploy/demo/reviews_sample.csv``. A wheel
carries copies of the same files under ``config/_installed/`` with the same relative paths
(setup.py's build step puts them there), so ``voc db migrate``, ``voc report`` and ``voc demo``
work from a non-editable install too. Files that only make sense in a checkout (the Grafana
dashboard it regenerates, the local service scripts, the labelled test data) are not shipped.
"""

from __future__ import annotations

from pathlib import Path

from config.errors import ConfigError

__all__ = [
    "INSTALLED_RESOURCES",
    "IS_CHECKOUT",
    "REPO_ROOT",
    "SHIPPED_RESOURCES",
    "resource_path",
    "work_dir",
]

#: Root of the source checkout (or, installed, the site-packages folder holding ``config``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: A checkout has its pyproject.toml beside the packages; an installed wheel does not.
IS_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "deploy").is_dir()

#: Where a wheel keeps its copies of :data:`SHIPPED_RESOURCES`.
INSTALLED_RESOURCES = Path(__file__).resolve().parent / "_installed"

#: Glob patterns, relative to the checkout's root, of the files a wheel carries (setup.py).
SHIPPED_RESOURCES = (
    "deploy/clickhouse/migrations/*.sql",
    "deploy/demo/reviews_sample.csv",
    "docs/bi.md",
)


def resource_path(relative: str) -> Path:
    """Absolute path of a shipped file or folder given relative to the checkout's root.

    In a checkout this is the file itself (edits take effect at once); installed, the wheel's
    copy. Raises :class:`ConfigError` naming both places when neither has it.
    """
    checkout = REPO_ROOT / relative
    if IS_CHECKOUT:
        if checkout.exists():
            return checkout
    else:
        installed = INSTALLED_RESOURCES / relative
        if installed.exists():
            return installed
    raise ConfigError(
        f"{relative} is not in this installation (looked in {checkout} and "
        f"{INSTALLED_RESOURCES / relative}); it is shipped only from a checkout or a wheel built by setup.py"
    )


def work_dir(name: str) -> Path:
    """Default folder for a tool's scratch files (demo, bench, chaos runs): ``.local/<name>`` of
    the checkout, or ``./.voc/<name>`` under the current directory when installed (never inside
    site-packages)."""
    base = REPO_ROOT / ".local" if IS_CHECKOUT else Path.cwd() / ".voc"
    return base / name
