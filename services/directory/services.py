"""Directory use cases: plain data in, who may do what checked, domain rules applied, changes and their
events stored together. Callers (API, pages, CLI) stay thin."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.directory import SERVICE, domain
from services.directory.repository import (BranchRepository, InviteRepository, LoginFailures, OrgSettings,
                                           PersonRepository, RegionRepository, ServiceAccountRepository)
from shared.auth import (BRANCH_MANAGER, BRANCH_STAFF, ORG_ADMIN, PARTICIPANT, SERVICE as SERVICE_KIND, Actor,
                         AuthError, Forbidden, Principal, TokenIssuer, require_role_in, require_signed_in)
from shared.errors import Conflict, DomainError, NotFound, RateLimited
from shared.events import Recorded, envelop_all

hasher = PasswordHasher()
MAX_FAILURES, FAILURE_WINDOW = 5, 15 * 60
STAFF_ROLES = [BRANCH_STAFF, BRANCH_MANAGER]


def _events(aggregate, actor: Actor):
    return envelop_all(aggregate.events, service=SERVICE, actor=actor)


@dataclass
class Directory:
    """The directory's storage, as the use cases see it."""

    branches: BranchRepository
    regions: RegionRepository
    people: PersonRepository
    invites: InviteRepository
    accounts: ServiceAccountRepository
    failures: LoginFailures
    settings: OrgSettings

    @classmethod
    def of(cls, db) -> "Directory":
        return cls(BranchRepository(db), RegionRepository(db), PersonRepository(db), InviteRepository(db),
                   ServiceAccountRepository(db), LoginFailures(db), OrgSettings(db))


# --- regions and branches ------------------------------------------------------------------------------

def create_region(d: Directory, actor: Actor, *, code: str, name: dict) -> domain.Region:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    region = domain.define_region(code, name["he"], name["en"])
    d.regions.add(region)
    return region


def list_regions(d: Directory, actor: Actor) -> list[domain.Region]:
    require_signed_in(actor.principal)
    return d.regions.all()


def _check_region(d: Directory, region_id: str | None) -> None:
    if region_id and d.regions.get(region_id) is None:
        raise DomainError("Unknown region.", "region_id")


def create_branch(d: Directory, actor: Actor, *, code: str, name: dict, region_id: str | None = None,
                  address: str | None = None) -> domain.Branch:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    _check_region(d, region_id)
    branch = domain.open_branch(code, name["he"], name["en"], region_id=region_id, address=address)
    d.branches.add(branch, _events(branch, actor))
    return branch


def get_branch(d: Directory, actor: Actor, branch_id: str) -> domain.Branch:
    require_signed_in(actor.principal)
    return _branch(d, branch_id)


def _branch(d: Directory, branch_id: str) -> domain.Branch:
    branch = d.branches.get(branch_id)
    if branch is None:
        raise NotFound(f"No branch {branch_id}.")
    return branch


def update_branch(d: Directory, actor: Actor, branch_id: str, **changes) -> domain.Branch:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    branch = _branch(d, branch_id)
    if "name" in changes:
        name = changes.pop("name")
        changes.update(name_he=name["he"], name_en=name["en"])
    _check_region(d, changes.get("region_id"))
    updated = domain.update_branch(branch, **changes)
    d.branches.save(updated, _events(updated, actor))
    return updated


def close_branch(d: Directory, actor: Actor, branch_id: str) -> domain.Branch:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    closed = domain.close_branch(_branch(d, branch_id))
    d.branches.save(closed, _events(closed, actor))
    return closed


def list_branches(d: Directory, actor: Actor, *, after: str | None, limit: int,
                  region_id: str | None = None) -> list[domain.Branch]:
    require_signed_in(actor.principal)
    return d.branches.list(after_code=after, limit=limit, region_id=region_id)


# --- people --------------------------------------------------------------------------------------------

def principal_of(person: domain.Person) -> Principal:
    branch_roles = dict(person.branch_roles)
    if person.kind == domain.PARTICIPANT and person.home_branch:
        branch_roles[person.home_branch] = frozenset({PARTICIPANT})
    return Principal(id=person.id, kind="person", name=person.name, roles=person.org_roles,
                     branch_roles=branch_roles, home_branch=person.home_branch, lang=person.lang)


def _managed_branches(principal: Principal) -> list[str] | None:
    """Branches whose staff this principal manages; None means every branch (org admins)."""
    return None if principal.is_org_admin else principal.branches_with([BRANCH_MANAGER])


def _may_manage(principal: Principal, person: domain.Person) -> bool:
    managed = _managed_branches(principal)
    if managed is None:
        return True
    return person.kind == domain.STAFF and not person.org_roles and bool(person.branch_roles) and \
        set(person.branch_roles) <= set(managed)


def _require_manager_of(principal: Principal | None, branch_ids) -> Principal:
    principal = require_signed_in(principal)
    managed = _managed_branches(principal)
    if managed is not None and not set(branch_ids) <= set(managed):
        raise Forbidden("Managers manage staff of their own branches only.")
    return principal


def create_staff(d: Directory, actor: Actor, *, name: str, email: str, lang: str = "he", org_roles=(),
                 branch_roles: dict | None = None) -> tuple[domain.Person, str]:
    """Register a staff member; returns them with a temporary password to hand over (shown once)."""
    branch_roles = branch_roles or {}
    principal = _require_manager_of(actor.principal, branch_roles)
    if org_roles and not principal.is_org_admin:
        raise Forbidden("Only org admins grant organization roles.")
    _known_branches(d, branch_roles)
    person = domain.register_staff(name, email, lang=lang, org_roles=org_roles, branch_roles=branch_roles)
    temporary = _temporary_password()
    d.people.add(person, _events(person, actor), password_hash=hasher.hash(temporary))
    return person, temporary


def _known_branches(d: Directory, branch_ids) -> None:
    ids = list(branch_ids)
    missing = set(ids) - d.branches.existing_ids(ids)
    if missing:
        raise DomainError(f"Unknown branch: {', '.join(sorted(missing))}.", "branch_roles")


def _temporary_password() -> str:
    return secrets.token_urlsafe(12)


def get_person(d: Directory, actor: Actor, person_id: str) -> domain.Person:
    principal = require_signed_in(actor.principal)
    person = d.people.get(person_id)
    if person is None or person.erased:
        raise NotFound(f"No person {person_id}.")
    if principal.id == person.id or principal.is_org_admin:
        return person
    staff_branches = set(principal.branches_with(STAFF_ROLES))
    if staff_branches & set(person.branch_ids):
        return person
    raise NotFound(f"No person {person_id}.")  # not visible: same answer as absent


def list_people(d: Directory, actor: Actor, *, kind: str | None, branch_id: str | None, after: str | None,
                limit: int) -> list[domain.Person]:
    """Org admins see everyone; branch staff and managers see the people of their own branches."""
    principal = require_signed_in(actor.principal)
    if principal.is_org_admin:
        scope = [branch_id] if branch_id else None
    else:
        mine = principal.branches_with(STAFF_ROLES)
        if not mine:
            raise Forbidden("Only staff list people.")
        if branch_id and branch_id not in mine:
            raise Forbidden("Not your branch.")
        scope = [branch_id] if branch_id else mine
    return d.people.list(kind=kind, branch_ids=scope, after=after, limit=limit)


def change_roles(d: Directory, actor: Actor, person_id: str, *, org_roles, branch_roles: dict) -> domain.Person:
    principal = require_signed_in(actor.principal)
    person = get_person(d, actor, person_id)
    if not principal.is_org_admin:
        if org_roles or person.org_roles or not _may_manage(principal, person):
            raise Forbidden("Managers manage staff of their own branches only.")
        _require_manager_of(principal, branch_roles)
    _known_branches(d, branch_roles)
    changed = domain.change_roles(person, org_roles, branch_roles)
    d.people.save(changed, _events(changed, actor), previous_email=person.email)
    return changed


def deactivate_person(d: Directory, actor: Actor, person_id: str) -> domain.Person:
    principal = require_signed_in(actor.principal)
    person = get_person(d, actor, person_id)
    if not _may_manage(principal, person):
        raise Forbidden("Managers manage staff of their own branches only.")
    changed = domain.deactivate(person)
    d.people.save(changed, _events(changed, actor), previous_email=person.email)
    return changed


def erase_person(d: Directory, actor: Actor, person_id: str) -> None:
    """The right to erasure, asked by the person themselves or done by an org admin."""
    principal = require_signed_in(actor.principal)
    if principal.id != person_id and not principal.is_org_admin:
        raise Forbidden("Only the person or an org admin erases a person.")
    person = d.people.get(person_id)
    if person is None or person.erased:
        raise NotFound(f"No person {person_id}.")
    erased = domain.erase(person)
    d.people.save(erased, _events(erased, actor), previous_email=person.email, unset_credentials=True)
    d.people.release_email(person.email, person.id)


def update_me(d: Directory, actor: Actor, **changes) -> domain.Person:
    principal = require_signed_in(actor.principal)
    person = d.people.get(principal.id)
    if person is None or person.erased:
        raise NotFound("No such person.")
    groups = tuple(g["code"] for g in d.settings.population_groups())
    changed = domain.update_profile(person, population_groups=groups, **changes)
    if changed is not person:
        d.people.save(changed, _events(changed, actor), previous_email=person.email)
    return changed


def me(d: Directory, actor: Actor) -> domain.Person:
    principal = require_signed_in(actor.principal)
    person = d.people.get(principal.id)
    if person is None or person.erased or not person.active:
        raise AuthError("This account is no longer active.")
    return person


# --- passwords and sign-in -----------------------------------------------------------------------------

def _verify(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        hasher.hash(password)  # spend the same time whether or not the account exists
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in_with_password(d: Directory, issuer: TokenIssuer, *, email: str, password: str,
                          ttl_seconds: int | None = None) -> tuple[domain.Person, str]:
    key = (email or "").strip().lower()
    now = time.time()
    if d.failures.recent(key, now - FAILURE_WINDOW) >= MAX_FAILURES:
        raise RateLimited("Too many failed sign-ins; try again later.", retry_after=FAILURE_WINDOW)
    person_id = d.people.id_by_email(key)
    person = d.people.get(person_id) if person_id else None
    password_hash = d.people.credentials(person_id)["password_hash"] if person else None
    if not _verify(password_hash, password) or person is None or not person.active or person.erased:
        d.failures.add(key, now, now - FAILURE_WINDOW)
        raise AuthError("Wrong e-mail or password.")
    d.failures.clear(key)
    if hasher.check_needs_rehash(password_hash):
        d.people.set_password_hash(person.id, hasher.hash(password))
    return person, issuer.issue(principal_of(person), ttl_seconds)


def change_password(d: Directory, actor: Actor, *, current_password: str, new_password: str) -> None:
    principal = require_signed_in(actor.principal)
    if not _verify(d.people.credentials(principal.id)["password_hash"], current_password):
        raise DomainError("The current password is wrong.", "current_password")
    domain.check_new_password(new_password)
    d.people.set_password_hash(principal.id, hasher.hash(new_password))


def reset_password(d: Directory, actor: Actor, person_id: str) -> str:
    """An admin (or the manager of the person's branches) sets a new temporary password, shown once."""
    principal = require_signed_in(actor.principal)
    person = get_person(d, actor, person_id)
    if person.kind != domain.STAFF or not _may_manage(principal, person):
        raise Forbidden("Managers reset passwords of staff of their own branches only.")
    temporary = _temporary_password()
    d.people.set_password_hash(person.id, hasher.hash(temporary))
    d.failures.clear(person.email or "")
    return temporary


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split_credential(credential: str) -> tuple[str, str]:
    owner, _, secret = (credential or "").partition(".")
    if not owner or not secret:
        raise AuthError("Malformed credential.")
    return owner, secret


def sign_in_with_device(d: Directory, issuer: TokenIssuer, device_token: str,
                        ttl_seconds: int | None = None) -> tuple[domain.Person, str]:
    """A participant coming back on the same device (the long-lived device token from joining)."""
    person_id, secret = _split_credential(device_token)
    hashes = d.people.credentials(person_id)["device_hashes"]
    person = d.people.get(person_id)
    if person is None or not person.active or person.erased or not any(
            hmac.compare_digest(h, _secret_hash(secret)) for h in hashes):
        raise AuthError("This device is not recognised; join again with your branch's code.")
    return person, issuer.issue(principal_of(person), ttl_seconds)


def sign_in_with_api_key(d: Directory, issuer: TokenIssuer, api_key: str) -> tuple[dict, str]:
    account_id, secret = _split_credential(api_key)
    account = d.accounts.get(account_id)
    if account is None or not account.get("active") or not hmac.compare_digest(account["key_hash"],
                                                                                 _secret_hash(secret)):
        raise AuthError("Unknown or revoked API key.")
    principal = Principal(id=account["_id"], kind=SERVICE_KIND, name=account["name"],
                          roles=frozenset(account.get("roles", [])))
    return account, issuer.issue(principal)


# --- invites and joining -------------------------------------------------------------------------------

def create_invite(d: Directory, actor: Actor, *, branch_id: str, days: int = 90,
                  max_uses: int | None = None) -> domain.Invite:
    principal = require_role_in(actor.principal, branch_id, STAFF_ROLES)
    branch = _branch(d, branch_id)
    if not branch.open:
        raise DomainError("The branch is closed.", "branch_id")
    invite = domain.new_invite(branch_id, principal.id, days=days, max_uses=max_uses)
    d.invites.add(invite)
    return invite


def list_invites(d: Directory, actor: Actor, *, branch_id: str | None) -> list[domain.Invite]:
    principal = require_signed_in(actor.principal)
    mine = None if principal.is_org_admin else principal.branches_with(STAFF_ROLES)
    if mine is not None and not mine:
        raise Forbidden("Only staff see invites.")
    scope = [branch_id] if branch_id else mine
    if mine is not None and branch_id and branch_id not in mine:
        raise Forbidden("Not your branch.")
    return d.invites.for_branches(scope)


def revoke_invite(d: Directory, actor: Actor, code: str) -> None:
    invite = d.invites.get(domain.normalize_invite_code(code))
    if invite is None:
        raise NotFound("No such invite.")
    require_role_in(actor.principal, invite.branch_id, STAFF_ROLES)
    d.invites.revoke(invite.code)


def open_invite(d: Directory, code: str) -> tuple[domain.Invite, domain.Branch]:
    """What anyone holding a code may see before joining: the branch it leads to."""
    invite = d.invites.get(domain.normalize_invite_code(code))
    if invite is None or not invite.usable():
        raise NotFound("This invite code is unknown or no longer valid.")
    return invite, _branch(d, invite.branch_id)


def join(d: Directory, issuer: TokenIssuer, actor: Actor, *, code: str, name: str | None = None, lang: str = "he",
         email: str | None = None, age_group: str | None = None, population_group: str | None = None
         ) -> tuple[domain.Person, str, str]:
    """A client joins their branch with its invite code; returns the participant, an access token and a
    device token that lets them come back on this device."""
    invite, branch = open_invite(d, code)
    groups = tuple(g["code"] for g in d.settings.population_groups())
    person = domain.register_participant(branch.id, name=name, lang=lang, email=email, age_group=age_group,
                                         population_group=population_group, population_groups=groups)
    if not d.invites.use(invite, domain.now()):
        raise NotFound("This invite code is unknown or no longer valid.")
    secret = secrets.token_urlsafe(24)
    joining = Actor(principal_of(person), actor.correlation_id)
    d.people.add(person, _events(person, joining), device_hash=_secret_hash(secret))
    return person, issuer.issue(principal_of(person)), f"{person.id}.{secret}"


# --- service accounts, organization settings, first start --------------------------------------------------

def create_service_account(d: Directory, actor: Actor, *, name: str, roles: list[str]) -> tuple[str, str]:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    if set(roles) - {ORG_ADMIN}:
        raise DomainError("Service accounts hold organization roles only.", "roles")
    account_id, secret = domain.new_id("sa"), secrets.token_urlsafe(32)
    d.accounts.add(account_id, name.strip(), roles, _secret_hash(secret), actor.id)
    return account_id, f"{account_id}.{secret}"


def list_service_accounts(d: Directory, actor: Actor) -> list[dict]:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    return d.accounts.all()


def set_population_groups(d: Directory, actor: Actor, items: list[dict]) -> list[dict]:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    codes = [i["code"] for i in items]
    if len(set(codes)) != len(codes):
        raise DomainError("Population group codes must be unique.", "items")
    changed = Recorded("cocreate.population_groups.changed.v1", "population_groups",
                       {"items": [{"code": i["code"], "name": {"he": i["name"]["he"], "en": i["name"]["en"]}}
                                  for i in items]})
    d.settings.set_population_groups(items, envelop_all([changed], service=SERVICE, actor=actor))
    return items


def population_groups(d: Directory) -> list[dict]:
    return d.settings.population_groups()


def ensure_admin(d: Directory, email: str, password: str) -> domain.Person | None:
    """The first start creates the org admin from configuration; later starts change nothing."""
    email = domain.normalize_email(email)
    if d.people.id_by_email(email):
        return None
    person = domain.register_staff("Administrator", email, lang="he", org_roles=[ORG_ADMIN])
    try:
        d.people.add(person, _events(person, Actor(None)), password_hash=hasher.hash(password))
    except Conflict:
        return None  # another process created it first
    return person
