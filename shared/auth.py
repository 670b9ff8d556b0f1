"""Identity: short-lived signed tokens (EdDSA JWTs) that the directory issues and every service verifies
locally, and the checks of role and branch scope every endpoint makes."""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PARTICIPANT = "participant"
BRANCH_STAFF = "branch_staff"
BRANCH_MANAGER = "branch_manager"
ORG_ADMIN = "org_admin"
SERVICE = "service"
STAFF_ROLES = (BRANCH_STAFF, BRANCH_MANAGER)
ALGORITHM = "EdDSA"
AUDIENCE = "cocreate"


class AuthError(Exception):
    """The request carries no valid identity (401)."""


class Forbidden(Exception):
    """The identity is valid but may not do this here (403)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a person (participant or staff) or another system's service account."""

    id: str
    kind: str = "person"  # person | service
    name: str = ""
    roles: frozenset[str] = frozenset()  # org-wide roles, e.g. org_admin
    branch_roles: dict[str, frozenset[str]] = field(default_factory=dict)  # branch id -> roles there
    home_branch: str | None = None
    lang: str = "he"

    @property
    def is_org_admin(self) -> bool:
        return ORG_ADMIN in self.roles

    @property
    def is_staff(self) -> bool:
        return self.is_org_admin or any(r & set(STAFF_ROLES) for r in self.branch_roles.values())

    def has_role_in(self, branch_id: str | None, roles: Iterable[str]) -> bool:
        """True if the principal holds one of `roles` at that branch; org admins hold every role everywhere."""
        if self.is_org_admin:
            return True
        wanted = set(roles)
        if branch_id is None:
            return bool(wanted & self.roles)
        return bool(wanted & self.branch_roles.get(branch_id, frozenset()))

    def branches_with(self, roles: Iterable[str]) -> list[str]:
        wanted = set(roles)
        return sorted(b for b, r in self.branch_roles.items() if r & wanted)


@dataclass(frozen=True)
class Actor:
    """Who performs a use case, and the correlation id that ties its events to the request."""

    principal: Principal | None
    correlation_id: str | None = None

    @property
    def id(self) -> str | None:
        return self.principal.id if self.principal else None


def require_signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise AuthError("sign-in required")
    return principal


def require_role_in(principal: Principal | None, branch_id: str | None, roles: Iterable[str]) -> Principal:
    require_signed_in(principal)
    if not principal.has_role_in(branch_id, roles):
        raise Forbidden("not allowed for this branch" if branch_id else "not allowed")
    return principal


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, issuer: str, ttl_seconds: int = 900):
        self.key = serialization.load_pem_private_key(private_key_pem, password=None)
        self.issuer = issuer
        self.ttl = ttl_seconds

    def issue(self, principal: Principal, ttl_seconds: int | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": principal.id, "iat": now,
            "exp": now + (ttl_seconds or self.ttl), "jti": uuid.uuid4().hex, "kind": principal.kind,
            "name": principal.name, "roles": sorted(principal.roles),
            "branches": {b: sorted(r) for b, r in principal.branch_roles.items()},
            "home": principal.home_branch, "lang": principal.lang,
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)


class TokenVerifier:
    """Checks tokens the directory signed. A token verified once is remembered until it expires (a bounded
    cache per process): the signature check costs half a millisecond, and a client sends the same token
    with every request."""

    CACHE_SIZE = 10_000

    def __init__(self, public_key_pem: bytes, issuer: str):
        self.key = serialization.load_pem_public_key(public_key_pem)
        self.issuer = issuer
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        with self._lock:
            known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        principal, expires = self._verify(token)
        with self._lock:
            self._verified[token] = (principal, expires)
            while len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=self.issuer,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        return Principal(
            id=claims["sub"], kind=claims.get("kind", "person"), name=claims.get("name", ""),
            roles=frozenset(claims.get("roles", [])),
            branch_roles={b: frozenset(r) for b, r in (claims.get("branches") or {}).items()},
            home_branch=claims.get("home"), lang=claims.get("lang", "he"),
        ), float(claims["exp"])


def generate_keypair(private_path: Path, public_path: Path) -> None:
    """Write a new Ed25519 key pair (local development and tests; production mounts its own)."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    private_path.chmod(0o600)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


def ensure_keypair(private_path: str | Path, public_path: str | Path) -> None:
    private_path, public_path = Path(private_path), Path(public_path)
    if not private_path.exists() or not public_path.exists():
        generate_keypair(private_path, public_path)
