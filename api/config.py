"""Configuration of the API process, read from environment variables in one settings object.

`ApiSettings` is the one object a process loads (capex/cli.py) and passes down: the API's own
settings (API_*) and, as its `exchange` section, the exchange core's (`ExchangeSettings`:
DATABASE_URL, EXCHANGE_*), so the server, the sequencer, the audit and the migrations read the
database from one field and commit in groups of one size.

Defaults run the embedded mode on one machine with nothing else installed: the API and the
sequencer in one process, SQLite (exchange.settings.DATABASE_URL), an in-process event bus.

- API_SEQUENCER_URL: where the sequencer runtime (exchange/runtime) runs, by its transport:
  `inproc://` (default: a writer thread in this process), `process://` (a child process of this
  one), `redis://host:port/db` (scale-out: this process is one of several API workers; the
  sequencer is `capex sequencer`, reached through that Redis). Unset, it is derived from the
  older settings below; set, they must agree with it (a contradiction is refused at start-up).
- API_MODE: `embedded` (default) or `worker` (= `redis://` at API_REDIS_URL).
- API_SEQUENCER_PROCESS: `true` in embedded mode = `process://`.
- API_REDIS_URL: `redis://127.0.0.1:6379/0`; used by `worker` mode and by the sequencer process,
  and in embedded mode only when set (shared rate limits).
- DATABASE_URL: as for the exchange core; API workers read the SQL projections from it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.accounts import ROLES
from exchange.runtime import DEFAULT_REDIS_URL
from exchange.runtime import SCHEMES as SEQUENCER_SCHEMES
from exchange.settings import ExchangeSettings
from exchange.settings_support import CommaList

ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+/?$")


def _roles(values: list[str]) -> list[str]:
    for role in values:
        if role not in ROLES:
            known = ", ".join(sorted(ROLES))
            raise ValueError(f"expected a comma-separated list of roles among {known}; got {role!r}")
    return values


def _origins(values: list[str] | None) -> list[str] | None:
    for origin in values or ():
        if origin != "*" and not ORIGIN.match(origin):
            raise ValueError(
                "expected a comma-separated list of origins (scheme://host[:port], no path) or *; "
                f"got {origin!r}"
            )
    return values


RoleList = Annotated[CommaList, AfterValidator(_roles)]
OriginList = Annotated[CommaList, AfterValidator(_origins)]


def _encryption_keys(value: SecretStr | None) -> SecretStr | None:
    if value is not None and value.get_secret_value():
        from api.key_crypto import parse_encryption_keys  # errors never repeat the key material

        parse_encryption_keys(value.get_secret_value())
    return value


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    mode: str = Field(default="embedded", pattern="^(embedded|worker)$")
    # The exchange core's section: DATABASE_URL, EXCHANGE_GROUP_COMMIT_SIZE, EXCHANGE_SNAPSHOT_INTERVAL
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    redis_url: str | None = None
    # commands and events streams in Redis (scale-out); one name per shard
    redis_prefix: str = "capex"
    host: str = "127.0.0.1"
    port: int = 8000

    # -- SECURITY --
    # Origins a browser WebSocket may come from ("*" allows any). Unset (None): the server's own
    # origin, the address the connection came to (api/ws/origins.py; docs/api.md, Settings).
    allowed_origins: OriginList | None = None
    session_ttl_seconds: int = 7 * 24 * 3600
    signature_window_ms: int = 30_000  # a signed request's timestamp may be this far from now
    # API_KEY_ENCRYPTION_KEYS: server keys that encrypt HMAC API keys at rest, "kid:<base64url of
    # 32 bytes>,..." (the first encrypts, all decrypt: rotation). Unset: a key file generated next
    # to the SQLite database (or ./var/), with a warning (api/key_crypto.py; docs/api.md).
    key_encryption_keys: Annotated[SecretStr | None, AfterValidator(_encryption_keys)] = None
    open_registration_roles: RoleList = Field(default_factory=lambda: ["creator", "supplier", "market_maker"])

    # -- RATE LIMITS (requests per second, burst) --
    rate_limit_per_key: float = 200.0
    rate_limit_per_key_burst: int = 400
    rate_limit_per_ip: float = 100.0
    rate_limit_per_ip_burst: int = 200
    ws_order_rate: float = 5_000.0
    ws_order_burst: int = 10_000
    ws_quote_rate: float = 20_000.0
    ws_quote_burst: int = 40_000

    # -- WEBSOCKET --
    ws_heartbeat_seconds: float = 1.0
    ws_idle_timeout_seconds: float = 30.0  # no message from a client for this long: disconnected
    ws_queue_size: int = 1_000  # market-data messages queued per connection before it counts as slow
    ws_max_pending_requests: int = 1_000  # unanswered requests per connection before reading pauses
    # Every this many seconds each API process re-checks the credentials its open WebSockets hold
    # (the backstop of the instant revocation, api/credentials.py)
    ws_credential_check_seconds: float = Field(default=5.0, gt=0, le=3600)
    book_depth_levels: int = 10

    # -- MARKET-MAKER PROTECTION (per maker and underlying) --
    mmp_default_quantity: int = 0  # 0: off until the maker configures it
    mmp_default_interval_ms: int = 1_000
    mmp_default_frozen_ms: int = 5_000

    # -- SEQUENCER --
    # The sequencer runtime's transport: inproc:// | process:// | redis://host:port/db (module doc)
    sequencer_url: str | None = None
    # embedded mode: the sequencer in a child process of its own (a second core) = process://
    sequencer_process: bool = False
    redis_timeout_seconds: float = 2.0  # worker mode: order entry fails closed (503) after this

    @property
    def scale_out(self) -> bool:
        return self.mode == "worker"

    @property
    def sequencer_scheme(self) -> str:
        """`inproc`, `process` or `redis`: the transport of the sequencer runtime."""
        return (self.sequencer_url or "inproc://").partition("://")[0]

    @property
    def sequencer_redis_url(self) -> str:
        """The Redis of the `redis://` transport (the sequencer URL itself)."""
        if self.sequencer_scheme == "redis" and self.sequencer_url:
            return self.sequencer_url
        return self.redis_url or DEFAULT_REDIS_URL

    @model_validator(mode="after")
    def _one_sequencer_url(self) -> ApiSettings:
        """API_SEQUENCER_URL, or the one the older settings mean; a contradiction is refused."""
        if self.mode == "worker" and self.sequencer_process:
            raise ValueError(
                "API_MODE=worker and API_SEQUENCER_PROCESS=true contradict each other: a worker "
                "reaches the sequencer over Redis (set one, or API_SEQUENCER_URL alone)"
            )
        implied = "redis" if self.mode == "worker" else "process" if self.sequencer_process else "inproc"
        url = self.sequencer_url
        if url is None:
            if implied == "redis":
                self.sequencer_url = self.redis_url or DEFAULT_REDIS_URL
            else:
                self.sequencer_url = f"{implied}://"
            return self
        scheme, separator, rest = url.partition("://")
        if not separator or scheme not in SEQUENCER_SCHEMES or (scheme != "redis" and rest):
            raise ValueError(
                f"API_SEQUENCER_URL: expected inproc://, process:// or redis://host:port/db, got {url!r}"
            )
        given = self.model_fields_set
        older = []
        if "mode" in given and (self.mode == "worker") != (scheme == "redis"):
            older.append(f"API_MODE={self.mode}")
        if "sequencer_process" in given and self.sequencer_process != (scheme == "process"):
            older.append(f"API_SEQUENCER_PROCESS={str(self.sequencer_process).lower()}")
        if older:
            raise ValueError(
                f"API_SEQUENCER_URL={url} contradicts {' and '.join(older)}: set API_SEQUENCER_URL alone"
            )
        # The older settings follow the URL, so everything that reads them agrees.
        self.mode = "worker" if scheme == "redis" else "embedded"
        self.sequencer_process = scheme == "process"
        if scheme == "redis" and self.redis_url is None:
            self.redis_url = url  # as API_MODE=worker with API_REDIS_URL
        return self

    @property
    def database_url(self) -> str:
        """The exchange section's: the one database of the server, the sequencer and the audit."""
        return self.exchange.database_url

    @model_validator(mode="before")
    @classmethod
    def _database_url_into_the_exchange_section(cls, values: Any) -> Any:
        """`ApiSettings(database_url=...)` (tests, tools) sets the exchange section's field."""
        if not isinstance(values, dict) or "database_url" not in values:
            return values
        values = dict(values)
        url = values.pop("database_url")
        section = values.get("exchange")
        if isinstance(section, ExchangeSettings):
            values["exchange"] = section.model_copy(update={"database_url": url})
        else:
            values["exchange"] = ExchangeSettings(**{**(section or {}), "database_url": url})
        return values
