"""Configuration: environment variables or the same names in `.env` (see CONTRACTS.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything `sigecve up` needs to know; passed as a value to actors and deployments."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="external PostgreSQL; unset runs the embedded one under var_dir/pg",
    )
    host: str = Field(default="127.0.0.1", validation_alias="SIGECVE_HOST")
    port: int = Field(default=8000, ge=1, le=65535, validation_alias="SIGECVE_PORT")
    admin_token: str | None = Field(default=None, validation_alias="SIGECVE_ADMIN_TOKEN")
    auto_register: bool = Field(default=False, validation_alias="SIGECVE_AUTO_REGISTER")
    ray_address: str | None = Field(default=None, validation_alias="RAY_ADDRESS")
    var_dir: Path = Field(default=Path("var"), validation_alias="SIGECVE_VAR_DIR")
    demo_cps: int = Field(default=20, ge=0, validation_alias="DEMO_CPS")

    tls_certfile: Path | None = Field(
        default=None,
        validation_alias="SIGECVE_TLS_CERTFILE",
        description="PEM certificate (chain): serve https/wss (OCPP security profile 2)",
    )
    tls_keyfile: Path | None = Field(default=None, validation_alias="SIGECVE_TLS_KEYFILE")

    charge_point_hosts: int = Field(
        default=2,
        ge=1,
        validation_alias="SIGECVE_CP_HOSTS",
        description="Ray actor processes hosting charge-point actors",
    )
    grid_scheduler_hosts: int = Field(
        default=1,
        ge=1,
        validation_alias="SIGECVE_SCHEDULER_HOSTS",
        description="Ray actor processes hosting the sites' grid schedulers",
    )
    proxy_location: Literal["EveryNode", "HeadOnly"] = Field(
        default="EveryNode",
        validation_alias="SIGECVE_PROXY_LOCATION",
        description="Serve ingress on every Ray node (behind a load balancer) or the head only",
    )
    gateway_replicas: int = Field(
        default=1,
        ge=1,
        validation_alias="SIGECVE_GATEWAY_REPLICAS",
        description="OCPP gateway replicas (WebSocket terminators) behind the ingress",
    )
    gateway_replicas_per_node: int | None = Field(
        default=None,
        ge=1,
        validation_alias="SIGECVE_GATEWAY_REPLICAS_PER_NODE",
        description="at most this many gateway replicas on one node (unset: no limit). Serve "
        "runs a node's ingress only where a replica runs: with one replica per node and as "
        "many replicas as nodes, a node that joins (or comes back) gets a replica and so an "
        "ingress",
    )
    replan_interval_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias="SIGECVE_REPLAN_S",
        description="how often each site's grid scheduler re-plans on its own",
    )
    heartbeat_interval_s: int = Field(default=300, ge=1, validation_alias="SIGECVE_HEARTBEAT_S")
    boot_retry_s: int = Field(
        default=60,
        ge=1,
        validation_alias="SIGECVE_BOOT_RETRY_S",
        description="the interval a Pending or Rejected boot is given: when to boot again",
    )
    command_timeout_s: float = Field(
        default=30.0, gt=0, validation_alias="SIGECVE_COMMAND_TIMEOUT_S"
    )
    max_frame_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        validation_alias="SIGECVE_MAX_FRAME_BYTES",
        description="larger OCPP frames get a CALLERROR; the connection stays up",
    )
    ocpp_rate_per_s: float = Field(
        default=20.0,
        gt=0,
        validation_alias="SIGECVE_OCPP_RATE_PER_S",
        description="messages a second one charger's connection is read at, past its burst: "
        "a flood is slowed (nothing dropped) and the other chargers do not feel it",
    )
    ocpp_burst: int = Field(
        default=100,
        ge=1,
        validation_alias="SIGECVE_OCPP_BURST",
        description="messages a charger may send at once before its rate applies",
    )
    max_pending_connects: int = Field(
        default=400,
        ge=1,
        validation_alias="SIGECVE_MAX_PENDING_CONNECTS",
        description="chargers one gateway replica admits at once; past it a connection is "
        "refused at once (HTTP 503) so the charger backs off, instead of waiting until its "
        "handshake times out: a fleet reconnecting together is served, not livelocked",
    )
    max_connect_wait_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="SIGECVE_MAX_CONNECT_WAIT_S",
        description="while the oldest charger a gateway replica is admitting (from its "
        "connect to its BootNotification's answer) has waited this long, the next is refused "
        "at once (HTTP 503): well inside a charger's timeouts, so an overloaded cluster "
        "admits chargers that are still there",
    )
    message_log_retention_days: float = Field(
        default=30,
        gt=0,
        validation_alias="SIGECVE_MESSAGE_LOG_RETENTION_DAYS",
        description="OCPP frames older than this are deleted from the message log",
    )
    db_pool_max: int = Field(default=4, ge=1, validation_alias="SIGECVE_DB_POOL_MAX")
    db_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        validation_alias="SIGECVE_DB_TIMEOUT_S",
        description="how long a message or request waits for a database connection before "
        "it is refused (an OCPP CALLERROR, HTTP 503): while the database is away, chargers "
        "are answered well within their call timeout and resend",
    )
    db_listen_address: str | None = Field(
        default=None,
        validation_alias="SIGECVE_DB_LISTEN_ADDRESS",
        description="the embedded PostgreSQL also listens on TCP at this address (port "
        "5432), with a generated password, so that the other nodes of a Ray cluster reach it",
    )

    failure_scorers: int = Field(
        default=1,
        ge=1,
        validation_alias="SIGECVE_ML_SCORERS",
        description="failure-scoring actors; charge points are shared among them by id",
    )
    score_interval_s: float = Field(
        default=900.0,
        gt=0,
        validation_alias="SIGECVE_ML_SCORE_INTERVAL_S",
        description="how often every charge point's failure risk is scored",
    )
    score_event_delay_s: float = Field(
        default=30.0,
        ge=0,
        validation_alias="SIGECVE_ML_EVENT_DELAY_S",
        description="after a notable event (fault code, session end, drop) a charge point is "
        "scored within this; events meanwhile are scored together",
    )
    bootstrap_model: bool = Field(
        default=True,
        validation_alias="SIGECVE_ML_BOOTSTRAP_MODEL",
        description="with no failure model deployed, train one on generated telemetry so "
        "scoring works from the first start (replace it with one trained on your fleet)",
    )

    mcp_rate_per_minute: int = Field(
        default=600,
        ge=1,
        validation_alias="SIGECVE_MCP_RATE_PER_MIN",
        description="MCP requests one token may make per minute (bursts of a tenth of it)",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        validation_alias="SIGECVE_ALLOWED_ORIGINS",
        description="browser origins besides this host's own that may call /mcp",
    )

    api_token: str | None = Field(
        default=None, validation_alias="SIGECVE_TOKEN", description="`sigecve ask`'s token"
    )
    anthropic_api_key: str | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    llm_model: str | None = Field(default=None, validation_alias="SIGECVE_LLM_MODEL")

    @model_validator(mode="after")
    def _tls_files_come_in_pairs(self) -> Settings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("SIGECVE_TLS_CERTFILE and SIGECVE_TLS_KEYFILE go together")
        for path in (self.tls_certfile, self.tls_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_certfile is not None

    @property
    def public_http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def public_ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}/ocpp"
