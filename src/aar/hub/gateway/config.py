"""What the LLM gateway forwards to, and the fleet's limits: a TOML file given to the hub.

    aar serve --dir campaign/hub --gateway gateway.toml

::

    # gateway.toml
    prices = "prices.toml"          # optional: laid over the default price table
    concurrency = 4                 # calls one researcher may have in flight at once
    [fleet]
    dollars = 200.0                 # the fleet stops at this spend (optional)
    tokens = 50_000_000             # and at this many tokens (optional)

    [[upstreams]]
    name = "anthropic"              # researchers call {hub}/llm/anthropic/v1/messages
    api = "anthropic"
    api_key_env = "ANTHROPIC_API_KEY"   # read from the hub's environment only
    models = ["claude-opus-4-6*", "claude-haiku-4-5*"]

    [[upstreams]]
    name = "local"
    api = "openai"                  # {hub}/llm/local/v1/chat/completions
    base_url = "http://gpu-box:8000/v1"

Keys never appear in the file: ``api_key_env`` names the variable the hub reads when it
starts. An upstream without a key (a local server) is sent none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aar.core.errors import ConfigError
from aar.core.prices import PriceTable
from aar.core.tomlfile import read_toml
from aar.core.usage import glob_lookup

VENDOR_URLS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}
VENDOR_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
GATEWAY_PREFIX = "/llm"


class Upstream(BaseModel):
    """One API the gateway forwards to, under ``/llm/{name}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    api: Literal["anthropic", "openai"]
    base_url: str | None = Field(None, description="API root (None: the vendor's)")
    api_key_env: str | None = Field(None, description="env var with the key (None: vendor's)")
    models: tuple[str, ...] = Field(("*",), description="model names or globs researchers may use")
    timeout_s: float = Field(600.0, gt=0, description="seconds to wait for the upstream")

    @property
    def url(self) -> str:
        return (self.base_url or VENDOR_URLS[self.api]).rstrip("/")

    @property
    def key_env(self) -> str:
        return self.api_key_env or VENDOR_KEYS[self.api]

    def allows(self, model: str) -> bool:
        return glob_lookup(dict.fromkeys(self.models, True), model) is not None

    def key(self) -> str | None:
        """The upstream key from this process's environment (None: there is none)."""
        return os.environ.get(self.key_env) or None

    def missing_key(self) -> str | None:
        """Why this upstream cannot be called without a key that is not there (None: fine)."""
        # a vendor's own API always needs one; a local server named by URL may need none
        if self.key() is None and (self.api_key_env is not None or self.base_url is None):
            return (
                f"the hub holds no key for upstream {self.name!r}: set {self.key_env} in the "
                "environment the hub runs in"
            )
        return None


class FleetLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dollars: float | None = Field(None, gt=0)
    tokens: int | None = Field(None, gt=0)


class GatewayConfig(BaseModel):
    """Upstreams, the price table and the fleet's limits (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upstreams: tuple[Upstream, ...] = Field(min_length=1)
    fleet: FleetLimits = FleetLimits()
    prices: Path | None = None
    concurrency: int = Field(4, ge=1, le=64, description="calls in flight per researcher")
    max_body_bytes: int = Field(32_000_000, ge=1024, description="largest request forwarded")
    store_payloads: bool = Field(True, description="keep each call's request and response")

    @field_validator("upstreams")
    @classmethod
    def _unique(cls, upstreams: tuple[Upstream, ...]) -> tuple[Upstream, ...]:
        names = [u.name for u in upstreams]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"upstream names must be unique; repeated: {', '.join(doubled)}")
        return upstreams

    def upstream(self, name: str) -> Upstream | None:
        return next((u for u in self.upstreams if u.name == name), None)

    def price_table(self) -> PriceTable:
        default = PriceTable.default()
        return default.updated(PriceTable.from_toml(self.prices)) if self.prices else default


def load_gateway(path: Path) -> GatewayConfig:
    """Read and check a gateway file; a relative ``prices`` path is taken from its folder."""
    data = read_toml(path, "gateway file")
    if isinstance(data.get("prices"), str):
        data["prices"] = path.parent / data["prices"]
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"gateway file {path}: {problems}") from None
    config.price_table()  # a bad price table is named now, not at the first call
    return config
