"""How a sandbox is started: flavour, seed, simulated latency and the documented sandbox credentials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sync

Flavor = Literal["cloud", "datacenter"]
FLAVORS: tuple[Flavor, ...] = ("cloud", "datacenter")

# The only secrets the sandbox ever prints: documented, local-only defaults.
SANDBOX_EMAIL = "sandbox@example.com"
SANDBOX_API_TOKEN = "sandbox-token"
SANDBOX_PAT = "sandbox-pat"

BUNDLED_SEED_DIR = Path(sync.__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class SandboxOptions:
    """Start-up settings; `port=0` picks a free port."""

    flavor: Flavor = "cloud"
    seed_dir: Path | None = None
    latency_ms: int = 0
    search_lag_ms: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    api_token: str = SANDBOX_API_TOKEN  # Cloud: basic auth with SANDBOX_EMAIL and this token
    pat: str = SANDBOX_PAT  # Data Center: bearer personal access token

    @property
    def custom_credentials(self) -> bool:
        """Whether a test chose its own token or PAT (then the banner must not print them)."""
        return (self.api_token, self.pat) != (SANDBOX_API_TOKEN, SANDBOX_PAT)

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {FLAVORS}, not {self.flavor!r}")
        if self.latency_ms < 0 or self.search_lag_ms < 0:
            raise ValueError("latency_ms and search_lag_ms must be >= 0")

    @property
    def is_cloud(self) -> bool:
        return self.flavor == "cloud"

    @property
    def effective_seed_dir(self) -> Path:
        return Path(self.seed_dir) if self.seed_dir else BUNDLED_SEED_DIR
