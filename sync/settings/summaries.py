"""The [themes] table and the [[summary_pages]] tables: recurrence of themes, and summary pages per team."""

from __future__ import annotations

from pydantic import Field, field_validator

from sync.settings.confluence import has_order_by
from sync.settings.section import Label, PageId, Section


class ThemeSettings(Section):
    """Themes of postmortems (their labels and services) and when a theme counts as recurring."""

    recurrence_days: int = Field(
        90, ge=1, le=3650,
        description="Two incidents of one theme within this many days make it recurring on the summary page.",
    )


class ScopedSummaryPage(Section):
    """A summary page of its own for part of the postmortems (a team's): the global page's sections, scoped.

    A postmortem is in scope when it matches every scope field that is set (each field: any of its values).
    """

    title: str = Field(min_length=1, description="Title of the page (found or created in its space).")
    space: str | None = Field(None, description="Space key of the page; default: the global summary page's space.")
    parent_id: PageId | None = Field(None, description="Page id the page is created under.")
    spaces: tuple[str, ...] = Field((), description="Scope: postmortems in these spaces (any of).")
    labels: tuple[Label, ...] = Field((), description="Scope: postmortems with these page labels (any of).")
    themes: tuple[str, ...] = Field((), description="Scope: postmortems with these themes (labels or services).")
    teams: tuple[str, ...] = Field((), description="Scope: postmortems whose page properties name this owning team.")
    cql: str | None = Field(
        None,
        description="Scope: postmortems this CQL finds too (searched on a full reconcile and when first needed; "
                    "without ORDER BY).",
    )

    @field_validator("cql")
    @classmethod
    def _cql_without_order_by(cls, cql: str | None) -> str | None:
        if cql is not None and has_order_by(cql):
            raise ValueError("must not contain ORDER BY; remove the ORDER BY clause")
        return cql
