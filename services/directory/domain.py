"""Directory rules: branches of the organization tree. Plain objects, no Flask, no database."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace

from shared.errors import DomainError
from shared.events import Recorded

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Branch:
    id: str
    code: str
    name_he: str
    name_en: str
    region_id: str | None = None
    address: str | None = None
    open: bool = True
    version: int = 1
    events: tuple[Recorded, ...] = field(default=(), compare=False)

    def snapshot(self) -> dict:
        return {"branch_id": self.id, "code": self.code, "name": {"he": self.name_he, "en": self.name_en},
                "region_id": self.region_id, "address": self.address, "open": self.open}


def new_branch_id() -> str:
    return f"br_{uuid.uuid4().hex[:16]}"


def open_branch(code: str, name_he: str, name_en: str, region_id: str | None = None,
                address: str | None = None, branch_id: str | None = None) -> Branch:
    if not CODE.match(code):
        raise DomainError("A branch code is 1-32 letters, digits, '-' or '_'.", "code")
    branch = Branch(id=branch_id or new_branch_id(), code=code, name_he=name_he.strip(), name_en=name_en.strip(),
                    region_id=region_id, address=address)
    if not branch.name_he or not branch.name_en:
        raise DomainError("A branch needs a name in Hebrew and in English.", "name")
    return replace(branch, events=(Recorded("cocreate.branch.created.v1", branch.id, branch.snapshot(), branch.id),))


def close_branch(branch: Branch) -> Branch:
    if not branch.open:
        raise DomainError("The branch is already closed.")
    closed = replace(branch, open=False, version=branch.version + 1)
    return replace(closed, events=(Recorded("cocreate.branch.closed.v1", branch.id, {"branch_id": branch.id},
                                            branch.id),))
