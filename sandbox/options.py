"""How a sandbox is started: flavour, seed, simulated latency, Confluence v1's retirement and the documented
sandbox credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Flavor = Literal["cloud", "datacenter"]
FLAVORS: tuple[Flavor, ...] = ("cloud", "datacenter")

# The only secrets the sandbox ever prints: documented, local-only defaults.
SANDBOX_EMAIL = "sandbox@example.com"
SANDBOX_API_TOKEN = "sandbox-token"
SANDBOX_PAT = "sandbox-pat"
# The site's cloudId (Cloud): what /_edge/tenant_info answers and the API gateway form /ex/{product}/{cloudId} needs.
SANDBOX_CLOUD_ID = "5b2c7a8e-6d0f-4c1e-9a3b-8f7e1d2c3b4a"

# The twelve example postmortems and their users, shipped inside this package (the daemon never reads them).
BUNDLED_SEED_DIR = Path(__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class SandboxOptions:
    """Start-up settings; `port=0` picks a free port."""

    flavor: Flavor = "cloud"
    seed_dir: Path | None = None
    latency_ms: int = 0
    search_lag_ms: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    # Cloud: basic auth with SANDBOX_EMAIL and this token. Data Center: this bearer PAT. Never in repr().
    api_token: str = field(default=SANDBOX_API_TOKEN, repr=False)
    pat: str = field(default=SANDBOX_PAT, repr=False)
    # Cloud: deprecated v1 content routes answer 410 Gone through the API gateway, as Confluence Cloud does
    # for OAuth (and, by inference, scoped-token) traffic; the site host keeps v1 (classic API tokens).
    v1_content_gone: bool = False

    @property
    def custom_token(self) -> bool:
        """Whether the credential this flavour checks is one a test chose (then it is never printed)."""
        return self.api_token != SANDBOX_API_TOKEN if self.is_cloud else self.pat != SANDBOX_PAT

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {FLAVORS}, not {self.flavor!r}")
        if self.latency_ms < 0 or self.search_lag_ms < 0:
            raise ValueError("latency_ms and search_lag_ms must be >= 0")
        if not self.api_token or not self.pat:
            raise ValueError("api_token and pat must not be empty")
        if self.v1_content_gone and not self.is_cloud:
            raise ValueError("v1_content_gone models Confluence Cloud; Data Center keeps its v1 API")

    @property
    def is_cloud(self) -> bool:
        return self.flavor == "cloud"

    @property
    def effective_seed_dir(self) -> Path:
        return Path(self.seed_dir) if self.seed_dir else BUNDLED_SEED_DIR
