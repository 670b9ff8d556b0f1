"""Configuration from environment variables only (environs); every variable is documented in .env.example."""
from __future__ import annotations

from dataclasses import dataclass

from environs import Env
from marshmallow.validate import OneOf, Range, Regexp

SERVICES = ("directory", "ideas", "feedback", "notifications")
AT_ONCE = ("workers", "all", "none")  # outbox_publish_at_once


@dataclass(frozen=True)
class Settings:
    service: str
    env: str = "development"
    # Sets one installation apart from others sharing the broker and the store (the test suite's, the
    # benchmarks'): its topics are "<namespace>.<topic>", its consumer groups "<namespace>.<group>" and its
    # databases by default "<namespace>_cocreate_<service>". Empty (production, `make run`): the names as is.
    namespace: str = ""
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
    outbox_poll_seconds: float = 0.1
    outbox_idle_poll_seconds: float = 0.5
    outbox_batch: int = 200
    # Which processes publish the events of their own writes right after them (shared/outbox.py, Publisher),
    # instead of leaving them for the relay's next look: "workers" (they have a producer already; the web
    # processes' events go through the relay, which hands them on in batches), "all", or "none".
    outbox_publish_at_once: str = "workers"
    consumer_max_attempts: int = 3
    consumer_backoff_seconds: float = 0.2
    worker_metrics_port: int = 0
    public_url: str = "http://localhost:8080"
    # notifications: e-mail, daily digests and webhooks (read by its worker; documented in .env.example)
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_tls: str = "none"  # none | starttls | ssl
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "Cocreate <no-reply@cocreate.local>"
    smtp_timeout_seconds: float = 30.0
    digest_hour: int = 18
    digest_timezone: str = "Asia/Jerusalem"
    delivery_max_attempts: int = 8
    delivery_backoff_seconds: float = 30.0
    delivery_backoff_max_seconds: float = 3600.0
    delivery_lease_seconds: float = 120.0
    delivery_poll_seconds: float = 1.0
    delivery_batch: int = 50
    webhook_timeout_seconds: float = 10.0
    # Webhooks to loopback, private, link-local or other non-public addresses: refused unless allowed (a local
    # receiver in development); otherwise the platform could be made to call into its own network.
    webhook_allow_private: bool = False

    def topic(self, name: str) -> str:
        """The broker's name of a topic of the contract (or of a consumer group), in this installation's
        namespace."""
        return f"{self.namespace}.{name}" if self.namespace else name

    group = topic  # consumer groups are named the same way

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
    namespace = env.str("COCREATE_NAMESPACE", "", validate=Regexp(r"^[a-z0-9-]*$"))
    values = dict(
        service=service,
        env=env.str("COCREATE_ENV", "development"),
        namespace=namespace,
        kafka_bootstrap_servers=tuple(env.list("KAFKA_BOOTSTRAP_SERVERS", ["127.0.0.1:9092"])),
        topic_partitions=env.int("KAFKA_TOPIC_PARTITIONS", 3),
        topic_replication=env.int("KAFKA_REPLICATION_FACTOR", 1),
        mongo_url=env.str("MONGO_URL", "mongodb://127.0.0.1:27017/"),
        mongo_db=env.str("MONGO_DB", "") or f"{namespace + '_' if namespace else ''}cocreate_{service}",
        mongo_timeout_ms=env.int("MONGO_TIMEOUT_MS", 2000),
        mongo_socket_timeout_ms=env.int("MONGO_SOCKET_TIMEOUT_MS", 15000),
        log_level=env.str("LOG_LEVEL", "INFO"),
        jwt_public_key_file=env.str("JWT_PUBLIC_KEY_FILE", "var/keys/jwt-public.pem"),
        jwt_private_key_file=env.str("JWT_PRIVATE_KEY_FILE", "var/keys/jwt-private.pem"),
        jwt_issuer=env.str("JWT_ISSUER", "cocreate-directory"),
        jwt_ttl_seconds=env.int("JWT_TTL_SECONDS", 900),
        session_ttl_seconds=env.int("SESSION_TTL_SECONDS", 8 * 3600),
        outbox_poll_seconds=env.float("OUTBOX_POLL_SECONDS", 0.1),
        outbox_idle_poll_seconds=env.float("OUTBOX_IDLE_POLL_SECONDS", 0.5),
        outbox_batch=env.int("OUTBOX_BATCH", 200),
        outbox_publish_at_once=env.str("OUTBOX_PUBLISH_AT_ONCE", "workers", validate=OneOf(AT_ONCE)),
        consumer_max_attempts=env.int("CONSUMER_MAX_ATTEMPTS", 3),
        consumer_backoff_seconds=env.float("CONSUMER_BACKOFF_SECONDS", 0.2),
        worker_metrics_port=env.int("WORKER_METRICS_PORT", 0),
        public_url=env.str("COCREATE_PUBLIC_URL", "http://localhost:8080"),
        smtp_host=env.str("SMTP_HOST", "localhost"),
        smtp_port=env.int("SMTP_PORT", 1025),
        smtp_tls=env.str("SMTP_TLS", "none", validate=OneOf(["none", "starttls", "ssl"])),
        smtp_user=env.str("SMTP_USER", ""),
        smtp_password=env.str("SMTP_PASSWORD", ""),
        smtp_from=env.str("SMTP_FROM", "Cocreate <no-reply@cocreate.local>"),
        smtp_timeout_seconds=env.float("SMTP_TIMEOUT_SECONDS", 30.0),
        digest_hour=env.int("DIGEST_HOUR", 18, validate=Range(0, 23)),
        digest_timezone=env.str("DIGEST_TIMEZONE", "Asia/Jerusalem"),
        delivery_max_attempts=env.int("DELIVERY_MAX_ATTEMPTS", 8, validate=Range(1, 100)),
        delivery_backoff_seconds=env.float("DELIVERY_BACKOFF_SECONDS", 30.0),
        delivery_backoff_max_seconds=env.float("DELIVERY_BACKOFF_MAX_SECONDS", 3600.0),
        delivery_lease_seconds=env.float("DELIVERY_LEASE_SECONDS", 120.0),
        delivery_poll_seconds=env.float("DELIVERY_POLL_SECONDS", 1.0),
        delivery_batch=env.int("DELIVERY_BATCH", 50, validate=Range(1, 1000)),
        webhook_timeout_seconds=env.float("WEBHOOK_TIMEOUT_SECONDS", 10.0),
        webhook_allow_private=env.bool("WEBHOOK_ALLOW_PRIVATE", False),
    )
    values.update(overrides)
    return Settings(**values)
