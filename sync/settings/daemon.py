"""The [sync], [retry] and [daemon] tables: how often and how carefully the daemon works."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from sync.settings.section import Section, upper

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class SyncSettings(Section):
    """How often and how much the daemon syncs."""

    # 1 minute: a saved page shows its Jira key within ~75 s at p95 (bench/latency.py; README, Benchmarks), and a
    # quiet cycle costs 2 requests, 120 an hour. A full reconcile every 60 cycles stays hourly.
    interval_minutes: float = Field(1, gt=0, le=1440, description="Minutes between incremental cycles.")
    full_reconcile_every: int = Field(
        60, ge=1, description="Every Nth cycle re-reads everything (60 at the default interval: hourly).")
    overlap_minutes: int = Field(
        15, ge=0, le=720,
        description="Minutes each incremental window reaches back before the previous one: a write that reaches "
                    "the search index this much late is still read (Jira and Confluence searches lag writes by "
                    "seconds to minutes).",
    )
    search_lag_grace_minutes: float = Field(
        15, ge=0, le=1440,
        description="Minutes to wait before trusting a search to show what was just written: a create whose "
                    "outcome is unknown is sent again only when a label search this much later finds nothing, "
                    "and a new lease holder writes only this much after taking over. Shorter than the real "
                    "search lag means duplicate issues.",
    )
    write_back: bool = Field(True, description="Write Jira keys back into postmortem pages.")
    lease_minutes: float = Field(
        15, ge=0, le=1440,
        description="Term of the write lease that keeps two instances from both writing (a content property "
                    "of the summary page); 0 turns it off: then run exactly one instance.",
    )
    state_path: Path = Field(Path("state/postmortem-sync.sqlite3"), description="SQLite cache and intent journal.")
    concurrency: int = Field(4, ge=1, le=16, description="Parallel requests per cycle.")
    max_requests_per_second: float = Field(
        10, gt=0, le=100, description="Client-side pace shared by Jira and Confluence calls."
    )
    request_timeout_seconds: int = Field(30, ge=1, le=600, description="Timeout of one HTTP request in seconds.")
    dry_run: bool = Field(False, description="Plan and log, but write nothing.")
    max_creates_per_cycle: int = Field(
        500, ge=0, description="Refuse a cycle that would create more issues than this (override needed)."
    )
    max_flags_per_cycle: int = Field(
        50, ge=0, description="Refuse a cycle that would flag more issues as removed than this."
    )


class RetrySettings(Section):
    """The single retry policy for 429, 5xx and connection errors."""

    max_attempts: int = Field(5, ge=1, le=20, description="Attempts per request, the first included.")
    max_total_seconds: float = Field(
        120, gt=0, le=3600, description="Give up when waiting would exceed this many seconds in total."
    )
    backoff_cap_seconds: float = Field(60, gt=0, le=600, description="Longest backoff between attempts.")


class DaemonSettings(Section):
    """Process-level settings of the daemon."""

    metrics_host: str = Field("127.0.0.1", description="Address of the health and Prometheus endpoint.")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Port of the health and Prometheus endpoint.")
    log_format: LogFormat = Field("auto", description="json, console, or auto (console on a TTY, else json).")
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper(cls, value: Any) -> Any:
        return upper(value)
