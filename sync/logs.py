"""Logging, configured once: structlog events as JSON in production, readable on a terminal, secrets redacted.

Library logs (atlassian-python-api, urllib3) go through the same formatter, so the redactor sees
every line the process writes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
# Values under keys like these are never logged, whatever they hold.
_SENSITIVE_KEY = re.compile(r"(token|password|passwd|secret|authorization|cookie|^pat$|_pat$)", re.IGNORECASE)
# The library logs response bodies and curl lines at DEBUG; keep them out even when we debug.
_QUIET_LIBRARIES = ("atlassian", "urllib3", "requests")


class SecretRedactor:
    """A processor that replaces configured secrets anywhere in an event, and blanks secret-named keys."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(sorted({secret for secret in secrets if secret}, key=len, reverse=True))

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return {key: self._clean(key, value) for key, value in event_dict.items()}

    def _clean(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and value is not None and _SENSITIVE_KEY.search(key):
            return REDACTED
        return self._scrub(value)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {key: self._clean(key, item) for key, item in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [self._scrub(item) for item in value]
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self._scrub(str(value))  # objects could render a secret in their str()


def wants_json(log_format: str, stream: TextIO) -> bool:
    """JSON unless asked for console, or auto on a terminal."""
    if log_format == "auto":
        return not (hasattr(stream, "isatty") and stream.isatty())
    return log_format == "json"


def configure_logging(
    *,
    log_format: str = "auto",
    level: str = "INFO",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging to one handler on stream (stderr by default)."""
    stream = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if wants_json(log_format, stream)
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter(shared, secrets, renderer))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def _formatter(shared: list[Any], secrets: Iterable[str], renderer: Any) -> logging.Formatter:
    """The formatter of every line, ours and the libraries': shared processors, then redaction, then rendering."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # before redaction: tracebacks are text by then
            SecretRedactor(secrets),
            renderer,
        ],
    )
