"""A daemon configuration file pointing at a sandbox, for tests that run the CLI as users do."""

from __future__ import annotations

from pathlib import Path

from sandbox import SANDBOX_API_TOKEN, SANDBOX_EMAIL, SANDBOX_PAT

SUMMARY_TITLE = "Postmortem action items"


def write_sandbox_config(path: Path, url: str, state: Path, *, token: str = SANDBOX_API_TOKEN,
                         pat: str = SANDBOX_PAT, project: str = "OPS", sync: dict[str, float] | None = None,
                         more: str = "") -> Path:
    """Write the TOML: Jira and Confluence at `url`, space PM, label postmortem, the summary page,
    `[sync]` with the state path plus `sync`, then any further sections in `more`."""
    sync_lines = "\n".join(f"{name} = {value}" for name, value in {"max_requests_per_second": 100, **(sync or {})}.items())
    path.write_text(f"""
[jira]
url = "{url}"
email = "{SANDBOX_EMAIL}"
api_token = "{token}"
pat = "{pat}"
project = "{project}"

[confluence]
url = "{url}/wiki"
spaces = ["PM"]
labels = ["postmortem"]

[confluence.summary_page]
space = "PM"
title = "{SUMMARY_TITLE}"

[sync]
state_path = "{state}"
{sync_lines}
{more}""")
    return path
