"""What every ``voc`` command shares: the settings, read once per process, and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from config import REPO_ROOT, ConfigError, Settings
from pipeline.runtime.kafka_connection import KafkaConnection
from pipeline.runtime.topics import TopicNames
from schemas.records import RawRecord

if TYPE_CHECKING:
    from clickhouse_driver import Client

    from pipeline.text.analysis import Analyzer
    from pipeline.text.sentiment import SentimentScorer

__all__ = [
    "DATA_DIR_OPTION", "MODEL_OPTION", "clickhouse_client", "current_settings", "print_topic",
    "sentiment_scorer", "text_analyzer",
]  # fmt: skip


class SettingsOnce:
    """The process's settings: read from the environment by the first command that asks, then
    handed to every later caller as they are (the CLI's entry point is the one place that
    reads them)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    def get(self) -> Settings:
        """The settings; an invalid VOC_* value is a usage error that names it."""
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as exc:
                raise click.ClickException(f"invalid VOC_* setting: {exc}") from exc
        return self._settings


def current_settings() -> Settings:
    """The settings of this ``voc`` invocation (kept on the root click context)."""
    return click.get_current_context().find_root().ensure_object(SettingsOnce).get()


def clickhouse_client(settings: Settings, with_database: bool = True) -> Client:
    """A ClickHouse connection as the settings describe it."""
    from pipeline.runtime.context import clickhouse_config
    from sinks.clickhouse import connect

    return connect(clickhouse_config(settings, with_database))


def print_topic(
    topic_of: Callable[[TopicNames], str], idle_timeout: float, render: Callable[[list[RawRecord]], str]
) -> None:
    """Read one of the namespace's topics from the beginning and print it as ``render`` says."""
    from pipeline.ops.kafka_io import read_topic

    settings = current_settings()
    topic = topic_of(TopicNames.in_namespace(settings.topic_namespace))
    click.echo(render(asyncio.run(read_topic(KafkaConnection.from_settings(settings), topic, idle_timeout))))


def sentiment_scorer(settings: Settings, model: str) -> SentimentScorer:
    from pipeline.runtime.context import load_sentiment_scorer
    from pipeline.text.sentiment import load_snownlp_model

    try:
        return load_sentiment_scorer(settings) if model == "ours" else load_snownlp_model()
    except (ConfigError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc


def text_analyzer(settings: Settings, taxonomy_path: Path | None, scorer: SentimentScorer) -> Analyzer:
    from pipeline.runtime.context import build_analyzer

    try:
        return build_analyzer(settings, taxonomy_path, scorer)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


MODEL_OPTION = click.option(
    "--model",
    type=click.Choice(["ours", "snownlp"]),
    default="ours",
    show_default=True,
    help="ours: the trained model (VOC_SENTIMENT_MODEL_PATH); snownlp: its bundled Bayes model.",
)


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=REPO_ROOT.parent / "shared" / "data",
    show_default=True,
    help="The labelled data: sentiment/*/dev.csv and aspects/asap_samples/*.csv.",
)
