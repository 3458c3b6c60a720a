"""What the adapter tests share: a Cloud and a Data Center site, adapters built for them, and the JSON
documents Jira and Confluence answer with (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from sync.atlassian import make_adapters
from sync.retry import Pacer, RetryPolicy
from sync.settings import Settings

TOKEN = "tok-SUPERSECRET-4242"
PAT = "pat-SUPERSECRET-9999"
EMAIL = "bot@example.com"
CLOUD = "https://acme.atlassian.net"
WIKI = CLOUD + "/wiki"
DC_JIRA = "https://jira.corp.example"
DC_WIKI = "https://confluence.corp.example"


def settings(deployment: str = "cloud", *, site: str | None = None, **jira: object) -> Settings:
    cloud = (site or deployment) != "datacenter"
    return Settings(
        jira={"url": CLOUD if cloud else DC_JIRA, "deployment": deployment, "email": EMAIL, "api_token": TOKEN,
              "pat": PAT, "project": "OPS", **jira},
        confluence={"url": WIKI if cloud else DC_WIKI, "spaces": ["PM"],
                    **({"pat": PAT} if deployment == "datacenter" else {})},  # explicit DC: its own token
    )


def adapters(deployment: str = "cloud", sleeps: list[float] | None = None, **jira: object):
    policy = RetryPolicy(sleep=(sleeps if sleeps is not None else []).append, jitter=lambda: 0.0)
    return make_adapters(settings(deployment, **jira), policy=policy, pacer=Pacer(1000))  # type: ignore[arg-type]


def query(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def body(call) -> object:
    return json.loads(call.request.body)


def issue(key: str, *, category: str = "new", assignee: dict | None = None, **fields: object) -> dict:
    return {
        "id": "10001",
        "key": key,
        "fields": {
            "summary": f"Summary of {key}",
            "status": {"name": "To Do", "statusCategory": {"key": category}},
            "labels": ["pmsync-abc"],
            "assignee": assignee,
            "duedate": "2026-07-01",
            "priority": {"name": "High"},
            "issuetype": {"name": "Task"},
            "project": {"key": "OPS"},
            "created": "2026-02-11T09:12:00.000+0000",
            "updated": "2026-02-12T10:00:00.000+0100",
            "resolutiondate": None,
            **fields,
        },
    }


def content(page_id: str, *, version: int = 3, title: str = "DB failover") -> dict:
    return {
        "id": page_id,
        "type": "page",
        "title": title,
        "space": {"key": "PM"},
        "version": {"number": version, "when": "2026-02-11T09:12:00.000Z"},
        "history": {"lastUpdated": {"when": "2026-02-11T09:12:00.000Z"}},
        "body": {"storage": {"value": f"<p>page {page_id}</p>", "representation": "storage"}},
        "metadata": {"labels": {"results": [{"prefix": "global", "name": "postmortem"}]}},
        "_links": {"webui": f"/spaces/PM/pages/{page_id}"},
    }
