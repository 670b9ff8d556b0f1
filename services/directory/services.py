"""Directory use cases: plain data in, domain rules applied, changes and their events stored together."""
from __future__ import annotations

from services.directory import SERVICE, domain
from services.directory.repository import BranchRepository
from shared.auth import ORG_ADMIN, Actor, require_role_in, require_signed_in
from shared.errors import NotFound
from shared.events import envelop_all


def _events(branch: domain.Branch, actor: Actor):
    return envelop_all(branch.events, service=SERVICE, actor=actor)


def create_branch(repo: BranchRepository, actor: Actor, *, code: str, name: dict, region_id: str | None = None,
                  address: str | None = None) -> domain.Branch:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    branch = domain.open_branch(code, name["he"], name["en"], region_id=region_id, address=address)
    repo.add(branch, _events(branch, actor))
    return branch


def get_branch(repo: BranchRepository, actor: Actor, branch_id: str) -> domain.Branch:
    require_signed_in(actor.principal)
    branch = repo.get(branch_id)
    if branch is None:
        raise NotFound(f"No branch {branch_id}.")
    return branch


def close_branch(repo: BranchRepository, actor: Actor, branch_id: str) -> domain.Branch:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    branch = get_branch(repo, actor, branch_id)
    closed = domain.close_branch(branch)
    repo.save(closed, _events(closed, actor))
    return closed


def list_branches(repo: BranchRepository, actor: Actor, *, after: str | None, limit: int) -> list[domain.Branch]:
    require_signed_in(actor.principal)
    return repo.list(after_code=after, limit=limit)
