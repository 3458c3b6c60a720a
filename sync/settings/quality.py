"""The [quality] table: the postmortem quality rules (sync.quality) and the opt-in page annotation."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, field_validator

from sync.models import Postmortem
from sync.quality import DEFAULT_VAGUE_PHRASES, PageQuality, QualityRules, assess_pages
from sync.settings.section import Section


class QualitySettings(Section):
    """Postmortem quality findings: on the summary page, in `report --json`, optionally on the pages."""

    enabled: bool = Field(True, description="Check postmortems for quality findings (summary page, report --json).")
    max_items: int = Field(10, ge=1, description="More action items than this is a finding (too-many-items).")
    max_due_days: int = Field(
        180, ge=0, description="An item due more than this many days after the incident is a finding (due-too-late)."
    )
    max_publish_days: int = Field(
        5, ge=0, description="A postmortem published more than this many days after the incident is a finding "
                             "(published-late).",
    )
    vague_phrases: tuple[str, ...] = Field(
        DEFAULT_VAGUE_PHRASES,
        description="Vague verbs and phrases: an item that starts with one (or is mostly made of them) and names "
                    "nothing measurable is a finding (vague-item). Replaces the default list; to add to it, use "
                    "extra_vague_phrases.",
    )
    extra_vague_phrases: tuple[str, ...] = Field(
        (), description="Vague phrases added to vague_phrases (a team's own vocabulary, any language)."
    )
    annotate_pages: bool = Field(
        False, description="Write an info panel listing its findings at the top of each postmortem page "
                           "(and remove it when they go away or this is turned off).",
    )

    @field_validator("vague_phrases", "extra_vague_phrases")
    @classmethod
    def _phrases_not_blank(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        if any(not phrase.strip() for phrase in phrases):
            raise ValueError("a vague phrase must not be blank")
        return tuple(" ".join(phrase.split()) for phrase in phrases)

    def rules(self) -> QualityRules:
        """The rules these settings ask for."""
        return QualityRules(max_items=self.max_items, max_due_days=self.max_due_days,
                            max_publish_days=self.max_publish_days,
                            vague_phrases=tuple(dict.fromkeys(self.vague_phrases + self.extra_vague_phrases)))

    def findings(self, pages: Iterable[Postmortem]) -> tuple[PageQuality, ...] | None:
        """The postmortems with findings under these rules (sync.quality.assess_pages); None when the checks are off."""
        return assess_pages(pages, self.rules()) if self.enabled else None
