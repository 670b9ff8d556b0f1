"""Bulk import of regions, branches and staff from CSV files (UTF-8, a header row), all or nothing: every row
is read and checked first, by the same schemas and domain rules as the API, and the file is written only when
no row is bad; otherwise every bad row is reported with its line number.

Command line (acts as the system, an org admin): python -m services.directory.importer regions|branches|staff FILE
"""
from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from services.directory import SERVICE, domain
from services.directory import schemas as s
from services.directory.repository import INDEXES
from services.directory.services import Directory
from shared.auth import ORG_ADMIN, SERVICE as SERVICE_KIND, Actor, Principal, require_role_in
from shared.config import load_settings
from shared.errors import Conflict, DomainError
from shared.events import envelop_all
from shared.mongo import apply_indexes, database_for

log = logging.getLogger(__name__)
BATCH = 1000
ROLES = domain.BRANCH_ROLES + domain.ORG_ROLES
Progress = Callable[[int], object]


# --- what a file may get wrong --------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


class ImportRejected(DomainError):
    """The file has bad rows; nothing was imported. `errors` lists every one, in line order."""

    def __init__(self, errors: list[RowError]):
        self.errors = sorted(set(errors), key=lambda e: (e.line, e.field or "", e.message))
        lines = len({e.line for e in self.errors})
        super().__init__(f"{lines} line{'s' if lines != 1 else ''} of the file "
                         f"{'are' if lines != 1 else 'is'} not valid; nothing was imported.")

    def report(self) -> str:
        return "\n".join(f"line {e.line}: {e.field + ': ' if e.field else ''}{e.message}" for e in self.errors)


@dataclass
class _Errors:
    found: list[RowError] = field(default_factory=list)
    lines: set[int] = field(default_factory=set)

    def add(self, line: int, column: str | None, message: str) -> None:
        self.found.append(RowError(line, column, message))
        self.lines.add(line)

    def on(self, line: int) -> bool:
        return line in self.lines

    def schema(self, line: int, schema, body: dict) -> None:
        """The API's own validation of the same fields; a nested field (name.he) is its column (name_he)."""
        def walk(messages, path):
            if isinstance(messages, dict):
                for key, value in messages.items():
                    walk(value, path + [str(key)])
            else:
                self.add(line, "_".join(path), " ".join(messages if isinstance(messages, list) else [messages]))
        walk(schema.validate(body), [])

    def raise_if_any(self) -> None:
        if self.found:
            raise ImportRejected(self.found)


# --- reading CSV -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    line: int  # where the record starts in the file (the header is line 1)
    values: dict[str, str]


def read_csv(data: bytes, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> tuple[list[Row], _Errors]:
    """The rows of a UTF-8 CSV file (a byte-order mark is fine) by column name, and the lines that could not be
    read; values are stripped, optional columns may be left out of the header, blank lines are skipped. A file
    that cannot be read at all (not UTF-8, a wrong header) is rejected here."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([RowError(data[:exc.start].count(b"\n") + 1, None,
                                       "The file is not UTF-8 text (save it as CSV UTF-8).")]) from None
    errors = _Errors()
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[Row] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.add(start, None, f"Not readable as CSV: {exc}.")
            continue
        if not any(value.strip() for value in record):
            continue
        if header is None:
            header = [name.strip().lower() for name in record]
            _check_header(header, required, optional, start, errors)
            if errors.found:
                break
            continue
        if len(record) != len(header):
            errors.add(start, None, f"{len(record)} fields where the header has {len(header)}.")
            continue
        values = {name: value.strip() for name, value in zip(header, record)}
        rows.append(Row(start, {name: values.get(name, "") for name in required + optional}))
    if header is None:
        errors.add(1, None, "The file is empty; its first line should name the columns "
                            f"{','.join(required + optional)}.")
    elif not rows and not errors.found:
        errors.add(1, None, "The file has a header but no rows.")
    if header is None or not rows:
        errors.raise_if_any()
    return rows, errors


def _check_header(header: list[str], required, optional, line: int, errors: _Errors) -> None:
    known = set(required) | set(optional)
    for name in sorted({n for n in header if header.count(n) > 1}):
        errors.add(line, name, "This column appears twice.")
    for name in [n for n in header if n not in known]:
        errors.add(line, name or None, f"Unknown column {name!r}; the columns are {','.join(required + optional)}."
                   if name else "A column has no name.")
    for name in [n for n in required if n not in header]:
        errors.add(line, name, "This column is missing.")


def _given(values: dict[str, str], *names: str) -> dict[str, str]:
    return {n: values[n] for n in names if values.get(n)}


# --- checking: everything is read and checked before anything is written ------------------------------------

def check_regions(d: Directory, actor: Actor, data: bytes) -> list[domain.Region]:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    rows, errors = read_csv(data, ("code", "name_he", "name_en"))
    schema, first_line, regions = s.RegionCreateSchema(), {}, []
    for row in rows:
        v = row.values
        errors.schema(row.line, schema, {**_given(v, "code"), "name": _name(v)})
        _unique_in_file(errors, first_line, row.line, "code", v["code"])
        if not errors.on(row.line):
            try:
                regions.append((row.line, domain.define_region(v["code"], v["name_he"], v["name_en"])))
            except DomainError as exc:
                errors.add(row.line, _column(exc.field), str(exc))
    existing = set(d.regions.ids_by_code())
    for line, region in regions:
        if region.code in existing:
            errors.add(line, "code", f"A region with code {region.code!r} exists already.")
    errors.raise_if_any()
    return [region for _, region in regions]


def check_branches(d: Directory, actor: Actor, data: bytes) -> list[domain.Branch]:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    rows, errors = read_csv(data, ("code", "name_he", "name_en"), ("region_code", "address"))
    region_ids = d.regions.ids_by_code()
    schema, first_line, branches = s.BranchCreateSchema(), {}, []
    for row in rows:
        v = row.values
        errors.schema(row.line, schema, {**_given(v, "code", "address"), "name": _name(v)})
        _unique_in_file(errors, first_line, row.line, "code", v["code"])
        if v["region_code"] and v["region_code"] not in region_ids:
            errors.add(row.line, "region_code", f"Unknown region code {v['region_code']!r}.")
        if not errors.on(row.line):
            try:
                branches.append((row.line, domain.open_branch(
                    v["code"], v["name_he"], v["name_en"], region_id=region_ids.get(v["region_code"]),
                    address=v["address"] or None)))
            except DomainError as exc:
                errors.add(row.line, _column(exc.field), str(exc))
    existing = d.branches.existing_codes([b.code for _, b in branches]) if branches else set()
    for line, branch in branches:
        if branch.code in existing:
            errors.add(line, "code", f"A branch with code {branch.code!r} exists already.")
    errors.raise_if_any()
    return [branch for _, branch in branches]


@dataclass
class _StaffMember:
    """The rows of one e-mail address, merged: one person with every role they list."""

    name: str
    lang: str
    lines: list[int] = field(default_factory=list)
    org_roles: set[str] = field(default_factory=set)
    branch_roles: dict[str, set[str]] = field(default_factory=dict)
    role_lines: dict[tuple[str, str], int] = field(default_factory=dict)


def check_staff(d: Directory, actor: Actor, data: bytes) -> list[domain.Person]:
    require_role_in(actor.principal, None, [ORG_ADMIN])
    rows, errors = read_csv(data, ("name", "email", "role"), ("lang", "branch_code"))
    branch_ids = d.branches.ids_by_code({r.values["branch_code"] for r in rows if r.values["branch_code"]})
    schema, members = s.StaffCreateSchema(only=("name", "email", "lang")), {}
    for row in rows:
        line, v = row.line, row.values
        errors.schema(line, schema, _given(v, "name", "email", "lang"))
        email = _email(errors, line, v["email"])
        role, branch_code = v["role"], v["branch_code"]
        if not role:
            errors.add(line, "role", f"A role is needed: {', '.join(ROLES)}.")
        elif role not in ROLES:
            errors.add(line, "role", f"Unknown role {role!r}; the roles are {', '.join(ROLES)}.")
        elif role in domain.ORG_ROLES and branch_code:
            errors.add(line, "branch_code", f"{role} is an organization role: leave branch_code empty.")
        elif role in domain.BRANCH_ROLES and not branch_code:
            errors.add(line, "branch_code", f"{role} is held at a branch: give its branch_code.")
        if branch_code and branch_code not in branch_ids:
            errors.add(line, "branch_code", f"Unknown branch code {branch_code!r}.")
        if email is None:
            continue
        lang = v["lang"] or "he"
        member = members.setdefault(email, _StaffMember(v["name"], lang))
        if member.lines:  # the same person on another row: the rows must agree on who they are
            if v["name"] != member.name:
                errors.add(line, "name", f"Line {member.lines[0]} gives this e-mail the name {member.name!r}.")
            if lang != member.lang:
                errors.add(line, "lang", f"Line {member.lines[0]} gives this e-mail the language {member.lang!r}.")
        member.lines.append(line)
        key = (branch_code, role)
        if key in member.role_lines:
            errors.add(line, "role", f"Line {member.role_lines[key]} gives this person the same role"
                                     f"{' at this branch' if branch_code else ''}.")
        if errors.on(line):
            continue
        member.role_lines[key] = line
        if branch_code:
            member.branch_roles.setdefault(branch_ids[branch_code], set()).add(role)
        else:
            member.org_roles.add(role)
    taken = d.people.claimed_emails(members) if members else set()
    people = []
    for email, member in members.items():
        if email in taken:
            for line in member.lines:
                errors.add(line, "email", "Someone in the directory has this e-mail address already.")
            continue
        if any(errors.on(line) for line in member.lines):
            continue
        try:
            people.append(domain.register_staff(member.name, email, lang=member.lang, org_roles=member.org_roles,
                                                branch_roles=member.branch_roles))
        except DomainError as exc:
            errors.add(member.lines[0], _column(exc.field), str(exc))
    errors.raise_if_any()
    return people


def _name(values: dict[str, str]) -> dict[str, str]:
    return {lang: values[f"name_{lang}"] for lang in ("he", "en") if values.get(f"name_{lang}")}


def _column(field_name: str | None) -> str | None:
    """The CSV column a domain rule's field is about."""
    return {"name": "name_he", "branch_roles": "role", "org_roles": "role"}.get(field_name or "", field_name)


def _unique_in_file(errors: _Errors, first_line: dict[str, int], line: int, column: str, value: str) -> None:
    if not value:
        return
    if value in first_line:
        errors.add(line, column, f"Line {first_line[value]} has the same {column} {value!r}.")
    else:
        first_line[value] = line


def _email(errors: _Errors, line: int, email: str) -> str | None:
    try:
        return domain.normalize_email(email) if email else None
    except DomainError as exc:
        errors.add(line, "email", str(exc))
        return None


# --- writing: in batches (insert_many); a write that fails half-way is undone --------------------------------

def _batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _events(aggregate, actor: Actor):
    return envelop_all(aggregate.events, service=SERVICE, actor=actor)


def _undone(exc: PyMongoError, undo: Callable[[], None], what: str) -> Exception:
    """Undo a write that failed half-way; what to raise instead: a Conflict when someone added the same code
    or e-mail address between the check and the write, else the store's own error."""
    try:
        undo()
    except PyMongoError:
        log.exception("could not undo a failed import; it may have left part of the file in the store")
    duplicate = isinstance(exc, DuplicateKeyError) or isinstance(exc, BulkWriteError) and any(
        e.get("code") == 11000 for e in exc.details.get("writeErrors", []))
    if duplicate:
        return Conflict(f"Some {what} of the file were added by someone else meanwhile; nothing was imported.")
    return exc


def add_regions(d: Directory, regions: list[domain.Region]) -> None:
    try:
        d.regions.add_many(regions)
    except PyMongoError as exc:
        raise _undone(exc, lambda: d.regions.delete_many([r.id for r in regions]), "region codes")


def add_branches(d: Directory, actor: Actor, branches: list[domain.Branch], progress: Progress | None = None) -> None:
    """Branches with their events. The events are held until every branch is in, so a write that fails
    half-way is undone before anything was published."""
    try:
        for batch in _batches(branches):
            d.branches.add_many([(b, _events(b, actor)) for b in batch], hold_events=True)
            if progress:
                progress(len(batch))
    except PyMongoError as exc:
        raise _undone(exc, lambda: d.branches.delete_many([b.id for b in branches]), "branch codes")
    d.branches.release_events([b.id for b in branches])


def add_people(d: Directory, actor: Actor, people: list[tuple[domain.Person, str | None]],
               progress: Progress | None = None) -> None:
    """People (password hash or None) with their events. Every e-mail address is claimed first, so an address
    someone took meanwhile stops the import before any person, or event, is written."""
    persons = [p for p, _ in people]
    try:
        d.people.claim_emails(persons)
        for batch in _batches(people):
            d.people.add_many([(p, _events(p, actor), password_hash) for p, password_hash in batch],
                              emails_claimed=True)
            if progress:
                progress(len(batch))
    except PyMongoError as exc:
        raise _undone(exc, lambda: d.people.delete_many(persons), "e-mail addresses")


def add_people_in_batches(d: Directory, actor: Actor, people: Iterable[tuple[domain.Person, str | None]],
                          progress: Progress | None = None) -> int:
    """Any number of people, a batch at a time (seeding a million participants): not all or nothing."""
    written = 0
    for batch in _batches(people):
        d.people.add_many([(p, _events(p, actor), password_hash) for p, password_hash in batch])
        written += len(batch)
        if progress:
            progress(len(batch))
    return written


# --- the use cases ----------------------------------------------------------------------------------------

def import_regions(d: Directory, actor: Actor, data: bytes) -> int:
    regions = check_regions(d, actor, data)
    add_regions(d, regions)
    return len(regions)


def import_branches(d: Directory, actor: Actor, data: bytes, progress: Progress | None = None) -> int:
    branches = check_branches(d, actor, data)
    add_branches(d, actor, branches, progress)
    return len(branches)


def import_staff(d: Directory, actor: Actor, data: bytes, progress: Progress | None = None) -> int:
    """Staff get no password: an admin resets one to hand over a temporary password (services.reset_password)."""
    people = check_staff(d, actor, data)
    add_people(d, actor, [(p, None) for p in people], progress)
    return len(people)


# --- command line ------------------------------------------------------------------------------------------

def system_actor(name: str) -> Actor:
    """Who the command-line tools act as: the system, with the org admin's rights."""
    return Actor(Principal(id="system", kind=SERVICE_KIND, name=name, roles=frozenset({ORG_ADMIN})))


def _write(kind: str, d: Directory, actor: Actor, items: list, progress: Progress) -> None:
    if kind == "regions":
        add_regions(d, items)
        progress(len(items))
    elif kind == "branches":
        add_branches(d, actor, items, progress)
    else:
        add_people(d, actor, [(p, None) for p in items], progress)


CHECKS = {"regions": check_regions, "branches": check_branches, "staff": check_staff}


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm  # the command line's only

    parser = argparse.ArgumentParser(prog="python -m services.directory.importer",
                                     description="Import a CSV file into the directory, all or nothing "
                                                 "(docs/directory-import.md).")
    parser.add_argument("kind", choices=list(CHECKS))
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        parser.error(f"cannot read {args.file}: {exc.strerror}")
    db = database_for(load_settings(SERVICE))
    apply_indexes(db, INDEXES)
    d, actor = Directory.of(db), system_actor(f"import of {args.file}")
    try:
        items = CHECKS[args.kind](d, actor, data)
    except ImportRejected as exc:
        print(f"{args.file}: {exc}\n{exc.report()}", file=sys.stderr)
        return 1
    try:
        with tqdm(total=len(items), unit=" " + args.kind, desc=f"importing {args.kind}") as bar:
            _write(args.kind, d, actor, items, bar.update)
    except Conflict as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: imported {len(items)} {args.kind}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
