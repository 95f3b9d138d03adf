"""Reading a YAML mapping, and a YAML-defined model, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.errors import ConfigError, describe_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Return the top-level mapping of a YAML file, or raise ConfigError saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_yaml_model(path: Path, model: type[ModelT]) -> ModelT:
    """The YAML file at ``path`` validated as ``model``; ConfigError naming what is wrong."""
    data = read_yaml_mapping(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
