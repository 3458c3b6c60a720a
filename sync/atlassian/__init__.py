"""Thin adapters implementing `sync.ports` over atlassian-python-api; Cloud/Data Center differences live here.

- `transport`: `RestChannel`, the one way a call goes out (pacer, retry policy, counting, errors, scrubbing);
- `connection`: credentials, library clients and Cloud vs Data Center detection;
- `jira` / `jira_json`: the Jira adapter, and Jira's JSON to and from our models;
- `confluence`: the Confluence adapter, and page JSON -> `Page`.

The library's own retries are off, and its convenience methods are avoided where they are wrong
(docs/atlassian-behaviours.md, "The client library"): we call explicit `/rest/...` paths. Queries
are built in `sync.query`, never here.
"""

from __future__ import annotations

from collections.abc import Callable

from sync.atlassian.confluence import ConfluenceAdapter
from sync.atlassian.connection import ClientOptions, Connection, Credentials, detect_deployment
from sync.atlassian.jira import JiraAdapter
from sync.atlassian.transport import RestChannel
from sync.ports import DeploymentKind
from sync.retry import Pacer, RetryPolicy
from sync.settings import RetrySettings, Settings

__all__ = ["ClientOptions", "ConfluenceAdapter", "JiraAdapter", "make_adapters", "retry_policy"]


def retry_policy(settings: RetrySettings) -> RetryPolicy:
    """The retry policy configured in `[retry]`."""
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        max_total_seconds=settings.max_total_seconds,
        cap_seconds=settings.backoff_cap_seconds,
    )


def make_adapters(
    settings: Settings, *, policy: RetryPolicy | None = None, pacer: Pacer | None = None
) -> tuple[JiraAdapter, ConfluenceAdapter]:
    """Adapters sharing one pacer and retry policy; deployment detection waits for the first call."""
    pacer = pacer or Pacer(settings.sync.max_requests_per_second)
    policy = policy or retry_policy(settings.retry)
    secrets = settings.secret_values()
    jira_channel = RestChannel(pacer=pacer, policy=policy, secrets=secrets)
    jira_connection = _jira_connection(settings, jira_channel)
    jira = JiraAdapter(jira_connection, jira_channel, project=settings.jira.project,
                       done_transition=settings.jira.done_transition)
    confluence_channel = RestChannel(pacer=pacer, policy=policy, secrets=secrets)
    return jira, ConfluenceAdapter(_confluence_connection(settings, jira_connection), confluence_channel)


def _client_options(settings: Settings) -> ClientOptions:
    # jira.verify_ssl is documented as covering Confluence too; there is no confluence.verify_ssl.
    return ClientOptions(verify_ssl=settings.jira.verify_ssl, timeout=settings.sync.request_timeout_seconds)


def _jira_connection(settings: Settings, channel: RestChannel) -> Connection:
    """Jira's client: the configured deployment, or serverInfo asked on first use when it is auto."""
    jira, options = settings.jira, _client_options(settings)
    credentials = Credentials(jira.email, jira.api_token, jira.pat)
    deployment: DeploymentKind | Callable[[], DeploymentKind] = (
        jira.deployment
        if jira.deployment != "auto"
        else lambda: detect_deployment(jira.url, credentials, channel, options)
    )
    return Connection(jira.url, deployment, lambda url, kind: options.jira(url, kind, credentials.client_auth(kind)))


def _confluence_connection(settings: Settings, jira_connection: Connection) -> Connection:
    """Confluence's client: its own credentials or Jira's; an auto deployment follows Jira's."""
    jira, confluence, options = settings.jira, settings.confluence, _client_options(settings)
    credentials = Credentials(
        confluence.email or jira.email, confluence.api_token or jira.api_token, confluence.pat or jira.pat
    )
    return Connection(
        confluence.url,
        confluence.deployment if confluence.deployment != "auto" else lambda: jira_connection.deployment,
        lambda url, kind: options.confluence(url, kind, credentials.client_auth(kind)),
    )
