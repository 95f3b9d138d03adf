"""Errors raised while loading configuration files."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

__all__ = ["ConfigError", "describe_validation_error"]


class ConfigError(Exception):
    """A configuration file is missing, not YAML, or does not match its schema.

    The message names the file and every offending field, so that a worker refuses to
    start with an error an operator can act on.
    """


def describe_validation_error(path: Path, exc: ValidationError) -> ConfigError:
    """Turn a pydantic error into one readable ConfigError naming file and fields."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )
    return ConfigError(f"{path}: {problems}")
