"""The [reminders] table: overdue follow-up comments on Jira issues (sync.reminders)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from sync.settings.section import Section


class RemindersSettings(Section):
    """Comments on overdue issues that mention their assignee, and at last the postmortem's owner."""

    enabled: bool = Field(True, description="Comment on open issues past their due date (see README, Reminders).")
    every_days: int = Field(
        7, ge=1, le=365, description="Days between reminders on the same issue; the first is sent the day after "
                                     "the due date."
    )
    max: int = Field(
        3, ge=1, le=20, description="Reminders per issue; after the last, one final comment also mentions the "
                                    "postmortem's owner (its page's owner field, else the page's author)."
    )
    max_per_cycle: int = Field(
        100, ge=1, le=10_000, description="Reminders sent in one cycle at most, the longest overdue first; the rest "
                                          "go in the next cycles (a backfilled archive does not comment on "
                                          "thousands of issues at once)."
    )
    time_zone: str = Field(
        "UTC", description="IANA time zone of the site, in which a due date ends (e.g. Europe/Berlin)."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value
