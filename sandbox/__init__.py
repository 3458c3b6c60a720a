"""A stateful local Jira + Confluence that answers like the official REST APIs (`postmortem-sync sandbox`).

Confluence lives under ``<url>/wiki`` (REST v1 at ``/wiki/rest/api``, v2 at ``/wiki/api/v2`` on Cloud
only), Jira at ``<url>/`` (REST v2, v3 on Cloud only, Agile 1.0). On Cloud both are also served in
Atlassian's API gateway form, ``<url>/ex/jira/{cloudId}`` and ``<url>/ex/confluence/{cloudId}/wiki``
(``GET <url>/_edge/tenant_info`` names the cloudId); with ``v1_content_gone`` the retired v1 content
routes answer 410 Gone there. Cloud wants basic auth ``sandbox@example.com`` / ``sandbox-token``;
Data Center a bearer personal access token per product, ``sandbox-pat`` on Jira and
``sandbox-confluence-pat`` on Confluence (each refused by the other product, as real ones are).
Admin endpoints sit under
``/_sandbox/`` (health, stats, faults, reset, state, clock); a browser view renders pages at
``/wiki/spaces/PM/pages/{id}`` and issues at ``/browse/{KEY}``.

Time is kept as real sites keep it: the service account has a profile time zone (``timezone``, by
default America/Los_Angeles) in which JQL date literals are read and Jira timestamps written; CQL
date literals are read in the site's zone (``site_timezone``, America/New_York) or the user's
(``cql_timezone="user"``). Searches may lag writes (``search_lag_ms``), measured on the sandbox's
clock, which ``advance_clock`` moves forward; every answer's ``Date`` header follows that clock.

In-process use (tests, benchmarks)::

    from sandbox import running_sandbox

    with running_sandbox(flavor="cloud", seed_dir=None, latency_ms=0, search_lag_ms=0, port=0) as sb:
        sb.url             # "http://127.0.0.1:PORT" (Jira's base URL; also sb.jira_url)
        sb.confluence_url  # sb.url + "/wiki"
        sb.gateway_jira_url, sb.gateway_confluence_url  # Cloud: the API gateway form of both
        sb.auth_kwargs()   # {"username", "password"} on Cloud, {"token"} on Data Center (Jira's;
                           # sb.auth_kwargs("confluence") for Confluence's PAT)
        sb.jira_client()   # atlassian.Jira(url, cloud=…, retry_with_header=False, credentials)
        sb.confluence_client()  # atlassian.confluence.ConfluenceServer(url + "/wiki", cloud=…)
        sb.state           # SandboxState: .confluence (pages, spaces), .jira (issues, sprints),
                           # .directory (users); hold sb.state.lock while reading under load
        sb.stats()         # {"total": n, "by_route": {"GET /rest/api/3/search/jql": n, …}}
        sb.reset_stats()
        sb.inject_fault(match="GET /rest/api/3/search/jql", status=429,
                        headers={"Retry-After": "2"}, count=3, delay_ms=0, reset=False)
        sb.clear_faults()
        sb.reset()         # back to the seed (also clears stats and faults; the clock keeps its time)
        sb.now()           # the sandbox's time; sb.advance_clock(timedelta(minutes=20)) moves it on

`Sandbox(SandboxOptions(...)).start()` / `.stop()` does the same without a `with` block, and
`serve(options)` runs it in the foreground until SIGINT/SIGTERM.
"""

from sandbox.options import (
    BUNDLED_SEED_DIR,
    SANDBOX_API_TOKEN,
    SANDBOX_CONFLUENCE_PAT,
    SANDBOX_EMAIL,
    SANDBOX_PAT,
    SandboxOptions,
)
from sandbox.runtime import Sandbox, banner, running_sandbox, serve

__all__ = [
    "BUNDLED_SEED_DIR",
    "SANDBOX_API_TOKEN",
    "SANDBOX_CONFLUENCE_PAT",
    "SANDBOX_EMAIL",
    "SANDBOX_PAT",
    "Sandbox",
    "SandboxOptions",
    "banner",
    "running_sandbox",
    "serve",
]
