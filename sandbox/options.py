"""How a sandbox is started: flavour, seed, simulated latency and index lag, time zones, Confluence v1's
retirement and the documented sandbox credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sandbox.timefmt import zone

Flavor = Literal["cloud", "datacenter"]
FLAVORS: tuple[Flavor, ...] = ("cloud", "datacenter")
CqlZone = Literal["site", "user"]
CQL_ZONES: tuple[CqlZone, ...] = ("site", "user")

# Real accounts and sites are rarely in UTC. Non-UTC defaults make every test run the realistic case:
# the service account west of UTC (a literal read in its zone lies hours after the same UTC wall time)
# and the site in yet another zone, so that nothing can lean on either being UTC.
DEFAULT_TIMEZONE = "America/Los_Angeles"
DEFAULT_SITE_TIMEZONE = "America/New_York"

# The only secrets the sandbox ever prints: documented, local-only defaults.
SANDBOX_EMAIL = "sandbox@example.com"
SANDBOX_API_TOKEN = "sandbox-token"
SANDBOX_PAT = "sandbox-pat"  # Jira's (Data Center personal access tokens are per product)
SANDBOX_CONFLUENCE_PAT = "sandbox-confluence-pat"  # Confluence's
# The site's cloudId (Cloud): what /_edge/tenant_info answers and the API gateway form /ex/{product}/{cloudId} needs.
SANDBOX_CLOUD_ID = "5b2c7a8e-6d0f-4c1e-9a3b-8f7e1d2c3b4a"

# The thirteen example postmortems and their users, shipped inside this package (the daemon never reads them).
BUNDLED_SEED_DIR = Path(__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class SandboxOptions:
    """Start-up settings; `port=0` picks a free port."""

    flavor: Flavor = "cloud"
    seed_dir: Path | None = None
    latency_ms: int = 0
    # How long a write takes to reach the search indexes (JQL and CQL), on the sandbox's clock; reads by id never lag.
    search_lag_ms: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    # Cloud: basic auth with SANDBOX_EMAIL and this token. Data Center: this bearer PAT on Jira (and
    # `confluence_pat` on Confluence: each product accepts only its own). Never in repr().
    api_token: str = field(default=SANDBOX_API_TOKEN, repr=False)
    pat: str = field(default=SANDBOX_PAT, repr=False)
    # Cloud: deprecated v1 content routes answer 410 Gone through the API gateway, as Confluence Cloud does
    # for OAuth (and, by inference, scoped-token) traffic; the site host keeps v1 (classic API tokens).
    v1_content_gone: bool = False
    # The service account's profile zone: JQL date literals are read in it, Jira timestamps are written in it.
    timezone: str = DEFAULT_TIMEZONE
    # The site's default zone: people without a zone of their own have it, and CQL reads literals in it.
    site_timezone: str = DEFAULT_SITE_TIMEZONE
    # Whose zone CQL date literals are read in: the site's (CONFCLOUD-70966) or the user's (other reports).
    cql_timezone: CqlZone = "site"
    # How far the sandbox's clock starts ahead of the machine's (negative: behind), as a server's clock may be.
    clock_offset_s: float = 0.0
    # Data Center: the bearer PAT Confluence accepts (Jira's `pat` is refused there, and this one on Jira).
    confluence_pat: str = field(default=SANDBOX_CONFLUENCE_PAT, repr=False)

    @property
    def custom_token(self) -> bool:
        """Whether the credential this flavour checks is one a test chose (then it is never printed)."""
        if self.is_cloud:
            return self.api_token != SANDBOX_API_TOKEN
        return self.pat != SANDBOX_PAT or self.confluence_pat != SANDBOX_CONFLUENCE_PAT

    def pat_for(self, product: str) -> str:
        """The personal access token a Data Center product accepts: Jira's `pat`, Confluence's `confluence_pat`."""
        return self.confluence_pat if product == "confluence" else self.pat

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {FLAVORS}, not {self.flavor!r}")
        if self.latency_ms < 0 or self.search_lag_ms < 0:
            raise ValueError("latency_ms and search_lag_ms must be >= 0")
        if not self.api_token or not self.pat or not self.confluence_pat:
            raise ValueError("api_token and pat must not be empty")
        if self.v1_content_gone and not self.is_cloud:
            raise ValueError("v1_content_gone models Confluence Cloud; Data Center keeps its v1 API")
        if self.cql_timezone not in CQL_ZONES:
            raise ValueError(f"cql_timezone must be one of {CQL_ZONES}, not {self.cql_timezone!r}")
        zone(self.timezone), zone(self.site_timezone)  # ValueError for an unknown name

    @property
    def is_cloud(self) -> bool:
        return self.flavor == "cloud"

    @property
    def effective_seed_dir(self) -> Path:
        return Path(self.seed_dir) if self.seed_dir else BUNDLED_SEED_DIR
