"""What domain code records: a plain fact with no envelope and no I/O. The service layer wraps each one
into a CloudEvent (adding who did it and the correlation id) and stores it through the outbox."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recorded:
    type: str
    subject: str
    data: dict[str, Any]
    branch_id: str | None = None
