"""Configuration from environment variables only (environs); every variable is documented in .env.example."""
from __future__ import annotations

from dataclasses import dataclass

from environs import Env

SERVICES = ("directory", "ideas", "feedback", "notifications")


@dataclass(frozen=True)
class Settings:
    service: str
    env: str = "development"
    kafka_bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    topic_partitions: int = 3
    topic_replication: int = 1
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_db: str = ""
    mongo_timeout_ms: int = 2000
    mongo_socket_timeout_ms: int = 15000
    log_level: str = "INFO"
    jwt_public_key_file: str = ""
    jwt_private_key_file: str = ""
    jwt_issuer: str = "cocreate-directory"
    jwt_ttl_seconds: int = 900
    session_ttl_seconds: int = 8 * 3600
    outbox_poll_seconds: float = 0.05
    outbox_batch: int = 200
    consumer_max_attempts: int = 3
    consumer_backoff_seconds: float = 0.2
    worker_metrics_port: int = 0
    public_url: str = "http://localhost:8080"

    @property
    def prefix(self) -> str:
        """The mount prefix of the service on the shared origin, e.g. /ideas."""
        return f"/{self.service}"

    @property
    def production(self) -> bool:
        return self.env == "production"


def load_settings(service: str, env: Env | None = None, **overrides) -> Settings:
    """Read the settings of one service from the environment; overrides win (tests use them)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    env = env or Env()
    values = dict(
        service=service,
        env=env.str("COCREATE_ENV", "development"),
        kafka_bootstrap_servers=tuple(env.list("KAFKA_BOOTSTRAP_SERVERS", ["127.0.0.1:9092"])),
        topic_partitions=env.int("KAFKA_TOPIC_PARTITIONS", 3),
        topic_replication=env.int("KAFKA_REPLICATION_FACTOR", 1),
        mongo_url=env.str("MONGO_URL", "mongodb://127.0.0.1:27017/"),
        mongo_db=env.str("MONGO_DB", "") or f"cocreate_{service}",
        mongo_timeout_ms=env.int("MONGO_TIMEOUT_MS", 2000),
        mongo_socket_timeout_ms=env.int("MONGO_SOCKET_TIMEOUT_MS", 15000),
        log_level=env.str("LOG_LEVEL", "INFO"),
        jwt_public_key_file=env.str("JWT_PUBLIC_KEY_FILE", "var/keys/jwt-public.pem"),
        jwt_private_key_file=env.str("JWT_PRIVATE_KEY_FILE", "var/keys/jwt-private.pem"),
        jwt_issuer=env.str("JWT_ISSUER", "cocreate-directory"),
        jwt_ttl_seconds=env.int("JWT_TTL_SECONDS", 900),
        session_ttl_seconds=env.int("SESSION_TTL_SECONDS", 8 * 3600),
        outbox_poll_seconds=env.float("OUTBOX_POLL_SECONDS", 0.05),
        outbox_batch=env.int("OUTBOX_BATCH", 200),
        consumer_max_attempts=env.int("CONSUMER_MAX_ATTEMPTS", 3),
        consumer_backoff_seconds=env.float("CONSUMER_BACKOFF_SECONDS", 0.2),
        worker_metrics_port=env.int("WORKER_METRICS_PORT", 0),
        public_url=env.str("COCREATE_PUBLIC_URL", "http://localhost:8080"),
    )
    values.update(overrides)
    return Settings(**values)
