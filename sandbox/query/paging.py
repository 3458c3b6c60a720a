"""Opaque page tokens (Confluence's `cursor`, Jira's `nextPageToken`): an offset bound to its query."""

from __future__ import annotations

import base64
import zlib


def encode_token(offset: int, query: str, prefix: str = "") -> str:
    """A URL-safe token for `offset` that only continues `query`."""
    raw = f"{offset}:{zlib.crc32(query.encode()):08x}".encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query: str, prefix: str = "") -> int:
    """The offset a token stands for; ValueError for a malformed token or one from another query."""
    try:
        text = base64.urlsafe_b64decode(token.removeprefix(prefix) + "==").decode()
    except UnicodeDecodeError as exc:
        raise ValueError("malformed token") from exc
    offset, _, checksum = text.partition(":")
    if checksum != f"{zlib.crc32(query.encode()):08x}":
        raise ValueError("the token belongs to another query")
    return int(offset)
