"""The worker logs at its configured level and builds no records below it (Faust's start-up
spinner used to leave the root logger at DEBUG: a log record per record sent)."""

from __future__ import annotations

import asyncio
import logging

import faust

from pipeline.runtime.app import create_worker


def test_the_worker_leaves_the_root_logger_at_the_configured_level() -> None:
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    handler = logging.NullHandler()
    loop = asyncio.new_event_loop()
    try:
        root.setLevel(logging.WARNING)
        root.handlers.insert(0, handler)
        app = faust.App("voc-test-worker-logging", broker="kafka://127.0.0.1:1")
        worker = create_worker(app, loop, "warning")
        worker.on_setup_root_logger(root, logging.WARNING)  # what its start-up calls
        assert root.level == logging.WARNING
        assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        loop.close()
