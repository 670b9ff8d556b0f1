"""Webhook signatures. Each delivery carries `X-Cocreate-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" keyed with the subscription's secret>`: the receiver recomputes it over the exact bytes it got,
so a changed body, another secret or an old replayed request (the time is signed too) is detected. The README
gives receivers the same check as a function to copy; a test holds the two to the same answers."""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Cocreate-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_mac(secret, body, timestamp)}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """True if `header` signs `body` with `secret` and was made within `tolerance` seconds of `now`."""
    try:
        parts = dict(item.strip().split("=", 1) for item in header.split(","))
        timestamp, given = int(parts["t"]), parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(_mac(secret, body, timestamp), given)


def _mac(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
