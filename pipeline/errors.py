"""Errors of voc-pipeline, split by what the caller should do about them."""

from __future__ import annotations

from schemas.dead_letters import ReasonCode

__all__ = ["InvalidMessage", "SinkUnavailable", "VocError"]


class VocError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class InvalidMessage(VocError):
    """Permanent: this message can never be processed. It goes to the dead-letter topic."""

    def __init__(self, reason: ReasonCode, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.reason: ReasonCode = reason
        self.error_class = type(cause).__name__ if cause is not None else "InvalidMessage"


class SinkUnavailable(VocError):
    """Retryable: the store did not take a batch; retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s
