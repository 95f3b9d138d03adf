"""The ``voc`` command line, one module per command group; the settings are read once per
process (:mod:`pipeline.cli._common`)."""

from __future__ import annotations

import logging

import click

from pipeline.cli import evaluation, ops, reporting, stream, tools
from pipeline.cli._common import SettingsOnce

__all__ = ["main"]


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """voc-pipeline: streaming voice-of-customer analytics on Kafka and ClickHouse.

    Settings come from VOC_* environment variables (see config/settings.py).
    """
    ctx.ensure_object(SettingsOnce)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every connection at INFO.
    logging.getLogger("kafka").setLevel(logging.WARNING)


for _group in (stream, ops, reporting, tools, evaluation):
    for _command in _group.COMMANDS:
        main.add_command(_command)
