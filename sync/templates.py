"""Template definitions: which headings open an action-item section and which table columns hold which field.

A template describes a postmortem family by meaning (heading vocabulary, header words), never by the
markup of a particular page. The parser combines several: custom templates from configuration first,
then the built-ins. Defaults follow docs/extraction-rules.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

ColumnField = Literal["summary", "owner", "due", "type", "priority", "jira", "done"]
COLUMN_FIELDS: tuple[ColumnField, ...] = ("summary", "owner", "due", "type", "priority", "jira", "done")

ACTION_HEADINGS: tuple[str, ...] = (
    r"\baction\s+items?\b",
    r"\bcorrective\s+(and\s+preventive\s+)?actions?\b",
    r"\bfollow[\s-]*up\s+actions?\b",
    r"\bfollow[\s-]*ups?\b",
    r"\bremediations?\b",
    r"\bpreventive\s+actions?\b",
    r"\bnext\s+steps\b",
)
# Headings about what was done *during* the incident; they never open an action section.
EXCLUDED_HEADINGS: tuple[str, ...] = (
    r"\bactions?\s+taken\b",
    r"^(incident\s+)?response\b",
    r"^recovery\b",
)
GENERIC_COLUMNS: dict[ColumnField, tuple[str, ...]] = {
    "summary": ("action", "action item", "corrective action", "remediation", "improvement", "task",
                "description", "summary", "what"),
    "owner": ("owner", "assignee", "dri", "responsible", "who"),
    "due": ("due", "due date", "deadline", "target date", "when"),
    "type": ("type", "category", "kind"),
    "priority": ("priority",),
    "jira": ("ticket", "jira", "jira issue", "bug", "issue", "tracking"),
    "done": ("status",),
}
TYPE_VOCABULARY: tuple[str, ...] = ("Fix", "Prevent", "Detect", "Respond", "Mitigate", "Process", "Other")
DONE_WORDS: tuple[str, ...] = ("done", "complete", "completed", "closed", "resolved", "fixed")
OPEN_WORDS: tuple[str, ...] = ("to do", "todo", "open", "in progress", "not started", "blocked", "pending",
                               "planned")
NO_OWNER_WORDS: tuple[str, ...] = ("tbd", "tbc", "?", "-", "—", "n/a", "none", "unassigned")

_PARENTHESISED = re.compile(r"\([^)]*\)")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")
_WHITESPACE = re.compile(r"\s+")


def _any_of(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any of `patterns`, or None when there are none."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


def normalise_words(text: str) -> str:
    """Lower-case, drop parentheses and edge punctuation/emoji, treat -/_ as spaces, collapse whitespace."""
    text = _PARENTHESISED.sub(" ", text.lower()).replace("_", " ")
    text = _EDGE_PUNCTUATION.sub("", text.strip())
    return _WHITESPACE.sub(" ", text.replace("-", " ")).strip()


class TemplateSpec(BaseModel):
    """One postmortem template family: section headings, column header words and value vocabularies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    section_headings: tuple[str, ...]
    excluded_headings: tuple[str, ...] = EXCLUDED_HEADINGS
    columns: dict[ColumnField, tuple[str, ...]]
    type_vocabulary: tuple[str, ...] = TYPE_VOCABULARY
    done_words: tuple[str, ...] = DONE_WORDS
    open_words: tuple[str, ...] = OPEN_WORDS
    no_owner_words: tuple[str, ...] = NO_OWNER_WORDS

    @field_validator("section_headings", "excluded_headings")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        try:
            _any_of(patterns)
        except re.error as exc:
            raise ValueError(f"invalid heading pattern in {list(patterns)!r}: {exc}") from exc
        return patterns

    @cached_property
    def _section_pattern(self) -> re.Pattern[str] | None:
        return _any_of(self.section_headings)

    @cached_property
    def _excluded_pattern(self) -> re.Pattern[str] | None:
        return _any_of(self.excluded_headings)

    @cached_property
    def _header_fields(self) -> dict[str, ColumnField]:
        lookup: dict[str, ColumnField] = {}
        for column_field, words in self.columns.items():
            for word in words:
                lookup.setdefault(normalise_words(word), column_field)
        return lookup

    @cached_property
    def _types(self) -> dict[str, str]:
        return {normalise_words(word): word for word in self.type_vocabulary}

    @cached_property
    def _done(self) -> dict[str, bool]:
        states = {normalise_words(word): False for word in self.open_words}
        states.update({normalise_words(word): True for word in self.done_words})
        return states

    @cached_property
    def _no_owner(self) -> frozenset[str]:
        return frozenset(word.strip().lower() for word in self.no_owner_words)

    def is_excluded_heading(self, heading: str) -> bool:
        """True when the heading names incident-time work (e.g. "Actions taken")."""
        return self._excluded_pattern is not None and self._excluded_pattern.search(heading.strip()) is not None

    def names_section(self, heading: str) -> bool:
        """True when the heading matches this template's action-section vocabulary (exclusions aside)."""
        return self._section_pattern is not None and self._section_pattern.search(heading) is not None

    def opens_section(self, heading: str) -> bool:
        """True when the heading names follow-up work and is not excluded."""
        return self.names_section(heading) and not self.is_excluded_heading(heading)

    def column_field(self, header: str) -> ColumnField | None:
        """The item field a table header names, or None (e.g. "#", "Notes")."""
        words = normalise_words(header)
        if not words:
            return None
        return self._header_fields.get(words) or self._header_fields.get(words.removesuffix("s"))

    def map_columns(self, headers: Sequence[str]) -> dict[ColumnField, int]:
        """Field -> column index for a header row; the first column naming a field wins."""
        mapping: dict[ColumnField, int] = {}
        known: dict[str, ColumnField | None] = {}  # a header spanning columns repeats: normalise it once
        for index, header in enumerate(headers):
            column_field = known[header] if header in known else known.setdefault(header, self.column_field(header))
            if column_field is not None:
                mapping.setdefault(column_field, index)
        return mapping

    def type_from_heading(self, heading: str) -> str | None:
        """The heading as written when its whole text is a type word (Fix, Prevent, ...), else None."""
        if normalise_words(heading) not in self._types:
            return None
        return _EDGE_PUNCTUATION.sub("", heading.strip())

    def done_from_text(self, text: str) -> bool | None:
        """True/False for a done/open status word, None for anything else."""
        return self._done.get(normalise_words(text))

    def means_no_owner(self, text: str) -> bool:
        """True for an empty owner or a placeholder such as TBD, n/a, unassigned."""
        cleaned = text.strip().lower()
        return not cleaned or cleaned in self._no_owner


@dataclass(frozen=True)
class ColumnMatch:
    """The template that best explains a table's header row, and its field -> column mapping."""

    template: TemplateSpec
    columns: dict[ColumnField, int]


def _family(name: str, headings: Iterable[str], **columns: tuple[str, ...]) -> TemplateSpec:
    """A built-in family: its own heading patterns and column words."""
    return TemplateSpec(name=name, section_headings=tuple(headings), columns=columns)


def builtin_templates() -> tuple[TemplateSpec, ...]:
    """The built-in families, most specific first; `generic` carries the full default vocabulary."""
    action_items, corrective = ACTION_HEADINGS[0], ACTION_HEADINGS[1]
    return (
        _family("atlassian-incident-postmortem", (corrective, action_items),
                summary=("action", "action item", "corrective action", "description"),
                owner=("owner", "assignee"), due=("due", "due date", "target date"),
                type=("type", "category"), priority=("priority",), jira=("jira", "jira issue", "ticket"),
                done=("status",)),
        _family("google-sre-action-items", (action_items,),
                summary=("action item", "action"), type=("type",), owner=("owner",), jira=("bug",)),
        _family("pagerduty-postmortem", (action_items,),
                jira=("ticket", "jira"), summary=("summary", "action", "description"), owner=("owner",),
                due=("due", "due date"), priority=("priority",)),
        _family("fix-prevent-detect-respond", (action_items, ACTION_HEADINGS[2], ACTION_HEADINGS[3]),
                summary=("action", "task", "what"), owner=("owner", "who", "dri"),
                due=("due", "deadline", "when"), type=("type", "kind"), done=("status",)),
        TemplateSpec(name="generic", section_headings=ACTION_HEADINGS, columns=GENERIC_COLUMNS),
    )


DEFAULT_TEMPLATES: tuple[TemplateSpec, ...] = builtin_templates()


def combine_templates(custom: Sequence[TemplateSpec] | None) -> tuple[TemplateSpec, ...]:
    """Custom templates (from configuration) first, then the built-ins."""
    return (*(custom or ()), *DEFAULT_TEMPLATES)


def section_template(templates: Sequence[TemplateSpec], heading: str) -> TemplateSpec | None:
    """The first template whose vocabulary makes this heading an action section, or None."""
    owner = next((template for template in templates if template.names_section(heading)), None)
    if owner is None:
        return None
    exclusions = {template._excluded_pattern for template in templates} - {None}  # templates mostly share one
    stripped = heading.strip()
    return None if any(pattern.search(stripped) for pattern in exclusions if pattern is not None) else owner


def best_column_match(templates: Sequence[TemplateSpec], headers: Sequence[str]) -> ColumnMatch | None:
    """The template recognising most header cells (a summary column required); ties go to the earlier one."""
    best: ColumnMatch | None = None
    for template in templates:
        columns = template.map_columns(headers)
        if "summary" in columns and (best is None or len(columns) > len(best.columns)):
            best = ColumnMatch(template, columns)
    return best
