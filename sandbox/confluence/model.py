"""Confluence's records: spaces, pages with their version history and labels, and content properties."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.directory import User


@dataclass(frozen=True)
class Label:
    id: str
    prefix: str
    name: str


@dataclass(frozen=True)
class PageVersion:
    """One saved state of a page; the body is stored exactly as sent."""

    number: int
    title: str
    body: str
    when: datetime
    by: User
    message: str = ""
    minor_edit: bool = False


@dataclass(frozen=True)
class ContentProperty:
    """One version of a property; a write replaces it with the next one."""

    id: str
    key: str
    value: Any
    number: int
    when: datetime
    by: User
    minor_edit: bool = False
    message: str = ""


@dataclass
class Page:
    id: str
    space_key: str
    parent_id: str | None
    created: datetime
    created_by: User
    versions: list[PageVersion]
    labels: list[Label] = field(default_factory=list)
    properties: dict[str, ContentProperty] = field(default_factory=dict)
    status: str = "current"  # or "trashed"

    @property
    def current(self) -> PageVersion:
        return self.versions[-1]

    @property
    def title(self) -> str:
        return self.current.title

    @property
    def body(self) -> str:
        return self.current.body

    @property
    def last_modified(self) -> datetime:
        return self.current.when


@dataclass
class Space:
    id: int
    key: str
    name: str
    homepage_id: str | None = None
