"""Confluence content properties: versioned JSON values kept on a page (REST v1 …/content/{id}/property).

A write names the version it produces, which must be the current one + 1, so two daemons can use a
property as a compare-and-swap lease. The REST layer runs every handler under the sandbox's state
lock, which makes the check and the write one atomic step: of two writers sending the same version,
exactly one wins and the other gets the 409.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from itertools import count
from typing import Any

from sandbox.confluence.model import ContentProperty, Page
from sandbox.directory import User
from sandbox.http.errors import confluence_error

MAX_KEY_LENGTH = 255
MAX_VALUE_CHARS = 32768  # Confluence's limit on a property value (JSON text)


class ContentProperties:
    """Create, read, replace and delete the properties of pages, with Confluence's rules and errors."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._ids = count(3_000_001)

    def get(self, page: Page, key: str) -> ContentProperty:
        """The property, or Confluence's 404."""
        if key not in page.properties:
            raise confluence_error(404, f"No content property found with key: {key}")
        return page.properties[key]

    def create(self, page: Page, key: str, value: Any, author: User) -> ContentProperty:
        """Version 1 of a new property; an existing key is refused with 400, as the spec documents."""
        _check_key(key)
        if key in page.properties:
            raise confluence_error(
                400, f"Cannot create a content property with key '{key}': content {page.id} already has one",
            )
        return self._write(page, key, value, 1, author)

    def update(
        self, page: Page, key: str, value: Any, number: int, author: User, minor_edit: bool = False,
    ) -> ContentProperty:
        """Write version `number`: current + 1, or 1 for a key the page does not have yet (which creates it)."""
        _check_key(key)
        current = page.properties.get(key)
        if current is None and number != 1:
            raise confluence_error(404, f"No content property found with key: {key}")
        if current is not None and number != current.number + 1:
            raise confluence_error(
                409, f"Version must be incremented on update. Current version is: {current.number}",
            )
        return self._write(page, key, value, number, author, minor_edit)

    def delete(self, page: Page, key: str) -> None:
        self.get(page, key)
        del page.properties[key]

    def _write(
        self, page: Page, key: str, value: Any, number: int, author: User, minor_edit: bool = False,
    ) -> ContentProperty:
        _check_value(value)
        existing = page.properties.get(key)
        prop_id = existing.id if existing else str(next(self._ids))
        prop = ContentProperty(prop_id, key, value, number, self.clock(), author, minor_edit)
        page.properties[key] = prop
        return prop


def _check_key(key: str) -> None:
    if not key.strip():
        raise confluence_error(400, "The content property key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise confluence_error(400, f"The content property key is too long: at most {MAX_KEY_LENGTH} characters")


def _check_value(value: Any) -> None:
    if len(json.dumps(value)) > MAX_VALUE_CHARS:
        raise confluence_error(413, f"The content property value is too long: at most {MAX_VALUE_CHARS} characters")
