"""MongoDB helpers: one client per process, one database per service, indexes declared in code and
applied at start, and a guard against operator or key injection from user-supplied data.

The local store is FerretDB 1.24 and production runs MongoDB, so only what both support is used:
no multi-document transactions, no $lookup/$facet, averages kept as sums and counts.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pymongo import ASCENDING, MongoClient
from pymongo.database import Database

from shared.config import Settings

_clients: dict[tuple[int, str], MongoClient] = {}
_lock = threading.Lock()


def client_for(settings: Settings) -> MongoClient:
    """The process's client for this URL, created on first use (so never before gunicorn forks)."""
    key = (os.getpid(), settings.mongo_url)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = MongoClient(
                settings.mongo_url,
                serverSelectionTimeoutMS=settings.mongo_timeout_ms,
                connectTimeoutMS=settings.mongo_timeout_ms,
                # A server that stops answering must not hang a request or a worker's shutdown forever.
                socketTimeoutMS=settings.mongo_socket_timeout_ms,
                tz_aware=True,
                appname=f"cocreate-{settings.service}",
            )
            _clients[key] = client
        return client


def database_for(settings: Settings) -> Database:
    return client_for(settings)[settings.mongo_db]


def ping(db: Database) -> bool:
    try:
        db.client.admin.command("ping")
        return True
    except Exception:
        return False


@dataclass(frozen=True)
class Index:
    """An index a collection needs, declared next to the code that relies on it."""

    collection: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def on(cls, collection: str, *fields: str, unique: bool = False, **options) -> "Index":
        keys = tuple((f[1:], -1) if f.startswith("-") else (f, ASCENDING) for f in fields)
        return cls(collection, keys, unique=unique, options=options)


def apply_indexes(db: Database, indexes: Iterable[Index]) -> None:
    """Create the declared indexes; creating an existing index is a no-op, so every start may run it."""
    for index in indexes:
        opts = dict(index.options)
        if index.unique:
            opts["unique"] = True
        if index.name:
            opts["name"] = index.name
        db[index.collection].create_index(list(index.keys), **opts)


class UnsafeKeyError(ValueError):
    """A user-supplied key that would be read as an operator or a path."""

    def __init__(self, path: str):
        super().__init__(f"field names may not start with '$' or contain '.': {path}")
        self.path = path


def reject_unsafe_keys(value: Any, path: str = "") -> Any:
    """Return value unchanged, or raise UnsafeKeyError if any mapping key starts with `$` or holds `.`.

    Applied to every request body before it reaches a schema or a query, so `{"$gt": ""}` can never
    turn an equality into an operator, and no key can address a nested path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str) or key.startswith("$") or "." in key or "\x00" in key:
                raise UnsafeKeyError(where)
            reject_unsafe_keys(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            reject_unsafe_keys(item, f"{path}[{i}]")
    return value
