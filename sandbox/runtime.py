"""Starting and stopping a sandbox: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sandbox.http.app import SandboxApp
from sandbox.http.controls import Controls
from sandbox.http.server import SandboxServer
from sandbox.options import (
    DEFAULT_SITE_TIMEZONE,
    DEFAULT_TIMEZONE,
    SANDBOX_API_TOKEN,
    SANDBOX_CLOUD_ID,
    SANDBOX_CONFLUENCE_PAT,
    SANDBOX_EMAIL,
    SANDBOX_PAT,
    CqlZone,
    Flavor,
    SandboxOptions,
)
from sandbox.state import SandboxState

if TYPE_CHECKING:
    from atlassian import Jira
    from atlassian.confluence import ConfluenceServer

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Sandbox:
    """A running (or startable) sandbox; see the package docstring for the interface."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self.app: SandboxApp | None = None

    def start(self) -> Sandbox:
        """Bind, seed and serve in a daemon thread; returns once requests are answered."""
        server = SandboxServer((self.options.host, self.options.port))
        host, port = server.bound_address
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.app = SandboxApp(self.options, f"http://{shown}:{port}")
        server.app = self.app
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The site root, e.g. http://127.0.0.1:8990 (Jira lives here)."""
        return self._controls.state.site

    @property
    def jira_url(self) -> str:
        return self.url

    @property
    def confluence_url(self) -> str:
        return self.url + "/wiki"

    @property
    def cloud_id(self) -> str | None:
        """The site's cloudId (Cloud only), as GET /_edge/tenant_info answers it."""
        return SANDBOX_CLOUD_ID if self.options.is_cloud else None

    @property
    def gateway_jira_url(self) -> str:
        """Jira through the API gateway form, as scoped API tokens reach it: <url>/ex/jira/{cloudId}."""
        return f"{self.url}/ex/jira/{self._gateway_cloud_id}"

    @property
    def gateway_confluence_url(self) -> str:
        """Confluence through the API gateway form, /wiki included: <url>/ex/confluence/{cloudId}/wiki."""
        return f"{self.url}/ex/confluence/{self._gateway_cloud_id}/wiki"

    @property
    def _gateway_cloud_id(self) -> str:
        if self.cloud_id is None:
            raise RuntimeError("Data Center has no API gateway")
        return self.cloud_id

    @property
    def flavor(self) -> Flavor:
        return self.options.flavor

    @property
    def state(self) -> SandboxState:
        """Live state for assertions; hold `state.lock` while reading it during traffic."""
        return self._controls.state

    def stats(self) -> dict[str, Any]:
        return self._controls.stats.snapshot()

    def reset_stats(self) -> None:
        self._controls.stats.reset()

    def reset(self) -> None:
        """Back to the seed; statistics and pending faults are cleared too."""
        self._controls.reset()

    def now(self) -> datetime:
        """The sandbox's current time (what its `Date` headers say)."""
        return self._controls.state.clock()

    def advance_clock(self, delta: timedelta) -> datetime:
        """Move the sandbox's time forward, as POST /_sandbox/clock does: writes get later timestamps, the
        search index catches up by that much, and the daemon (which reads the `Date` headers) sees it pass."""
        return self._controls.state.clock.advance(delta)

    def inject_fault(
        self, match: str | None = None, status: int | None = None, headers: dict[str, str] | None = None,
        count: int = 1, delay_ms: int = 0, reset: bool = False,
    ) -> dict[str, Any]:
        """Queue a fault, exactly as POST /_sandbox/faults does."""
        spec: dict[str, Any] = {"count": count, "delay_ms": delay_ms, "reset": reset, "headers": headers or {}}
        if match is not None:
            spec["match"] = match
        if status is not None:
            spec["status"] = status
        return self._controls.faults.add(spec).to_json()

    def clear_faults(self) -> None:
        self._controls.faults.clear()

    def auth_kwargs(self, product: str = "jira") -> dict[str, str]:
        """Keyword arguments for atlassian-python-api: basic auth on Cloud, the product's PAT on Data Center."""
        if self.options.is_cloud:
            return {"username": SANDBOX_EMAIL, "password": self.options.api_token}
        return {"token": self.options.pat_for(product)}

    def jira_client(self, **kwargs: Any) -> Jira:
        """atlassian.Jira against this sandbox (library retries off unless asked for)."""
        from atlassian import Jira

        options = {"cloud": self.options.is_cloud, "retry_with_header": False, **self.auth_kwargs(), **kwargs}
        return Jira(url=self.jira_url, **options)

    def confluence_client(self, **kwargs: Any) -> ConfluenceServer:
        """atlassian ConfluenceServer at <site>/wiki, the class the daemon uses (docs/atlassian-behaviours.md)."""
        from atlassian.confluence import ConfluenceServer

        options = {"cloud": self.options.is_cloud, "retry_with_header": False, **self.auth_kwargs("confluence"),
                   **kwargs}
        # atlassian-python-api leaves this constructor unannotated; the variable states what it builds.
        connect: Callable[..., ConfluenceServer] = ConfluenceServer
        return connect(self.confluence_url, **options)

    @property
    def _controls(self) -> Controls:
        if self.app is None:
            raise RuntimeError("the sandbox is not running; call start() or use it as a context manager")
        return self.app.controls

    def move_issue(self, key: str, project_key: str) -> str:
        """Move an issue to another project (created when new), as a user would in Jira; its new key.

        The old key keeps working: GET issue/{old} answers the issue under its new key, JQL `key` finds it.
        """
        return self.state.move_issue(key, project_key)["key"]

    def hide_field(self, project_key: str, field_id: str) -> None:
        """Take a field off a project's create and edit screens, as a Jira admin might: hide_field("OPS", "duedate").

        Creates and edits that set it get Jira's 400; createmeta and editmeta no longer list it.
        """
        self.state.hide_field(project_key, field_id)

    def require_field(self, project_key: str, field_id: str, name: str) -> None:
        """Put a required custom text field on a project's create screens, as a Jira admin might:
        require_field("OPS", "customfield_10200", "Root cause"). Creates without it get Jira's 400
        ("Root cause is required."); createmeta lists it as required, without a default."""
        self.state.require_field(project_key, field_id, name)

    def add_jira_link(self, link_id: str, url: str) -> None:
        """Link Confluence to another Jira, as an admin adds an application link: Jira macros whose serverId is
        `link_id` point there. The primary link (`PRIMARY_JIRA_LINK`) is this sandbox's Jira; a serverId naming
        no link renders "Unable to locate Jira server for this macro"."""
        self.state.add_jira_link(link_id, url)

    def restrict_page_edit(self, page_id: str) -> None:
        """Let the sandbox user read this page but not edit it (a page restriction); unknown page: ApiError 404."""
        self.state.restrict_page_edit(page_id)

    def delete_page(self, page_id: str) -> None:
        """Move a page to the trash, as DELETE /wiki/rest/api/content/{id} does."""
        self.state.delete_page(page_id)

    def archive_page(self, page_id: str) -> None:
        """Archive a page, as a space admin does: out of CQL search and default reads, kept, read-only."""
        self.state.archive_page(page_id)

    def restrict_page_view(self, page_id: str, status: int = 404) -> None:
        """Hide a page from the sandbox user (a view restriction): its reads answer `status` (404, as Cloud does)."""
        self.state.restrict_page_view(page_id, status)


@contextmanager
def running_sandbox(
    flavor: Flavor = "cloud", seed_dir: Path | str | None = None, latency_ms: int = 0, search_lag_ms: int = 0,
    port: int = 0, host: str = "127.0.0.1", api_token: str = SANDBOX_API_TOKEN, pat: str = SANDBOX_PAT,
    v1_content_gone: bool = False,
    timezone: str = DEFAULT_TIMEZONE, site_timezone: str = DEFAULT_SITE_TIMEZONE, cql_timezone: CqlZone = "site",
    clock_offset_s: float = 0.0, confluence_pat: str = SANDBOX_CONFLUENCE_PAT,
) -> Iterator[Sandbox]:
    """A sandbox serving in a background thread for the duration of the block."""
    options = SandboxOptions(flavor, Path(seed_dir) if seed_dir else None, latency_ms, search_lag_ms, host, port,
                             api_token, pat, v1_content_gone, timezone, site_timezone, cql_timezone, clock_offset_s,
                             confluence_pat)
    with Sandbox(options) as sandbox:
        yield sandbox


def serve(options: SandboxOptions, out: TextIO = sys.stdout) -> int:
    """Run in the foreground until SIGINT/SIGTERM (the `postmortem-sync sandbox` command)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Sandbox(options) as sandbox:
        print(banner(sandbox), file=out, flush=True)
        stop.wait()
        print("sandbox stopped", file=out, flush=True)
    return 0


def banner(sandbox: Sandbox) -> str:
    """Start-up text: where things are and the documented sandbox credentials (nothing else secret)."""
    options = sandbox.options
    state = sandbox.state.summary()
    lines = [
        f"postmortem-sync sandbox ({options.flavor}) listening on {sandbox.url}",
        f"  Jira:       {sandbox.jira_url}",
        f"  Confluence: {sandbox.confluence_url}   (browse: {sandbox.confluence_url}/spaces/PM)",
        f"  auth:       {_auth_line(options)}",
        f"  seed:       {state['pages']} pages, {state['users']} users from {options.effective_seed_dir}",
        f"  admin:      {sandbox.url}/_sandbox/health, /_sandbox/stats, /_sandbox/faults, /_sandbox/reset",
        f"  options:    latency {options.latency_ms} ms, search lag {options.search_lag_ms} ms",
        (f"  time zones: account {options.timezone}, site {options.site_timezone}, "
         f"CQL dates in the {options.cql_timezone}'s zone"),
        f"  clock:      {sandbox.url}/_sandbox/clock (starts {options.clock_offset_s:+g} s off this machine's)",
    ]
    if options.is_cloud:
        gone = "; v1 content routes answer 410 Gone there" if options.v1_content_gone else ""
        lines.insert(4, f"  gateway:    {sandbox.gateway_jira_url}, {sandbox.gateway_confluence_url}{gone}")
    if options.host not in _LOOPBACK:
        public = "" if options.custom_token else "; the credentials are public"
        lines.append(f"  WARNING: bound to {options.host}, reachable beyond this machine{public}.")
    return "\n".join(lines)


def _auth_line(options: SandboxOptions) -> str:
    """The credentials to use: the documented defaults in full, a token a test chose never."""
    if options.is_cloud:
        token = "custom API token (not shown)" if options.custom_token else f"API token {SANDBOX_API_TOKEN}"
        return f"basic auth: {SANDBOX_EMAIL} / {token}"
    if options.custom_token:
        return "bearer personal access token: custom PAT (not shown)"
    return f"bearer personal access token: {SANDBOX_PAT} (Jira), {SANDBOX_CONFLUENCE_PAT} (Confluence)"
