"""Reading and checking import files, without storage: the directory's answers come from fakes."""
import pytest

from services.directory import importer
from shared.auth import BRANCH_MANAGER, ORG_ADMIN, Actor, Forbidden, Principal

ADMIN = Actor(Principal(id="pe_admin", roles=frozenset({ORG_ADMIN})))


class FakeRegions:
    def __init__(self, codes):
        self.codes = codes

    def ids_by_code(self):
        return {c: f"rg_{c}" for c in self.codes}


class FakeBranches:
    def __init__(self, codes):
        self.codes = codes

    def existing_codes(self, codes):
        return set(codes) & set(self.codes)

    def ids_by_code(self, codes):
        return {c: f"br_{c}" for c in codes if c in self.codes}


class FakePeople:
    def __init__(self, emails):
        self.emails = emails

    def claimed_emails(self, emails):
        return set(emails) & set(self.emails)


class FakeDirectory:
    def __init__(self, regions=(), branches=(), emails=()):
        self.regions, self.branches, self.people = FakeRegions(regions), FakeBranches(branches), FakePeople(emails)


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def rejected(check, d, data) -> list[tuple[int, str | None]]:
    with pytest.raises(importer.ImportRejected) as caught:
        check(d, ADMIN, data)
    return [(e.line, e.field) for e in caught.value.errors]


BRANCH_HEADER = "code,name_he,name_en,region_code,address"
STAFF_HEADER = "name,email,lang,branch_code,role"


def test_a_valid_branches_file_gives_one_branch_per_row_with_its_region():
    branches = importer.check_branches(FakeDirectory(regions=["north"]), ADMIN, csv(
        BRANCH_HEADER, "haifa,חיפה,Haifa,north,\"שדרות הנשיא 12, חיפה\"", "eilat,אילת,Eilat,,"))
    assert [(b.code, b.region_id, b.address) for b in branches] == [
        ("haifa", "rg_north", "שדרות הנשיא 12, חיפה"), ("eilat", None, None)]
    assert [e.type for b in branches for e in b.events] == ["cocreate.branch.created.v1"] * 2


def test_every_bad_branch_row_is_reported_with_its_line_and_column():
    errors = rejected(importer.check_branches, FakeDirectory(regions=["north"], branches=["taken"]), csv(
        BRANCH_HEADER,
        "ok,א,A,north,",            # 2: fine
        "bad code,ב,B,,",           # 3: code format
        "c3,,C,,",                  # 4: no Hebrew name
        "c4,ד,D,south,",            # 5: unknown region
        "ok,ה,E,,",                 # 6: same code as line 2
        "taken,ו,F,,",              # 7: exists already
        "c7,ז,G",                   # 8: too few fields
        f"c8,ח,H,,{'x' * 301}",      # 9: address too long
    ))
    assert errors == [(3, "code"), (4, "name_he"), (5, "region_code"), (6, "code"), (7, "code"), (8, None),
                      (9, "address")]


def test_a_quoted_value_over_two_lines_is_reported_at_the_line_its_row_starts():
    assert rejected(importer.check_branches, FakeDirectory(), csv(
        BRANCH_HEADER, "ok,א,A,,", '"two\nlines",ב,B,,', "next,ג,C,,zzz,extra")) == [(3, "code"), (5, None)]


@pytest.mark.parametrize("data, expected", [
    (b"", [(1, None)]),
    (b"code,name_he,name_en\n", [(1, None)]),
    (b"code,name_he\nx,y\n", [(1, "name_en")]),
    (b"code,name_he,name_en,colour\nx,y,z,red\n", [(1, "colour")]),
    (b"code,name_he,name_en\nok,\xd7\x90,A\nbad,\xff,B\n", [(3, None)]),
])
def test_a_file_that_cannot_be_read_is_rejected_with_where_and_why(data, expected):
    assert rejected(importer.check_branches, FakeDirectory(), data) == expected


def test_excel_csv_with_a_byte_order_mark_and_crlf_line_ends_is_read():
    data = "\ufeffcode,name_he,name_en\r\nnorth,צפון,North\r\n\r\n".encode()
    [region] = importer.check_regions(FakeDirectory(), ADMIN, data)
    assert (region.code, region.name_he) == ("north", "צפון")


def test_staff_on_several_rows_become_one_person_with_every_role():
    [noa, dana] = importer.check_staff(FakeDirectory(branches=["haifa", "eilat"]), ADMIN, csv(
        STAFF_HEADER,
        "Noa Levi,noa@example.org,he,haifa,branch_manager",
        "Noa Levi,NOA@Example.org,he,eilat,branch_staff",
        "Noa Levi,noa@example.org,he,,org_admin",
        "Dana,dana@example.org,,haifa,branch_staff"))
    assert noa.branch_roles == {"br_haifa": {"branch_manager"}, "br_eilat": {"branch_staff"}}
    assert noa.org_roles == {"org_admin"} and len(noa.events) == 1
    assert (dana.lang, dana.email) == ("he", "dana@example.org")


def test_every_bad_staff_row_is_reported_with_its_line_and_column():
    errors = rejected(importer.check_staff, FakeDirectory(branches=["haifa"], emails=["taken@example.org"]), csv(
        STAFF_HEADER,
        "Noa,noa@example.org,he,haifa,branch_manager",    # 2: fine
        "Dan,not-an-address,he,haifa,branch_staff",       # 3: e-mail
        "Eli,eli@example.org,fr,haifa,branch_staff",      # 4: language
        "Gil,gil@example.org,he,nowhere,branch_staff",    # 5: unknown branch
        "Hod,hod@example.org,he,haifa,janitor",           # 6: unknown role
        "Ido,ido@example.org,he,haifa,org_admin",         # 7: an org role at a branch
        "Kim,kim@example.org,he,,branch_staff",           # 8: a branch role without a branch
        "Lea,taken@example.org,he,haifa,branch_staff",    # 9: e-mail exists already
        "Noam,noa@example.org,he,haifa,branch_staff",     # 10: the same e-mail with another name
        "Noa,noa@example.org,he,haifa,branch_manager",    # 11: the same role at the same branch again
        ",,he,haifa,branch_staff",                        # 12: no name, no e-mail
    ))
    assert errors == [(3, "email"), (4, "lang"), (5, "branch_code"), (6, "role"), (7, "branch_code"),
                      (8, "branch_code"), (9, "email"), (10, "name"), (11, "role"), (12, "email"), (12, "name")]


def test_the_report_names_each_line():
    with pytest.raises(importer.ImportRejected) as caught:
        importer.check_regions(FakeDirectory(regions=["north"]), ADMIN, csv("code,name_he,name_en", "north,צפון,North"))
    assert str(caught.value) == "1 line of the file is not valid; nothing was imported."
    assert caught.value.report() == "line 2: code: A region with code 'north' exists already."


@pytest.mark.parametrize("check", [importer.check_regions, importer.check_branches, importer.check_staff])
def test_only_org_admins_import(check):
    manager = Actor(Principal(id="pe_m", branch_roles={"br_a": frozenset({BRANCH_MANAGER})}))
    with pytest.raises(Forbidden):
        check(FakeDirectory(), manager, b"")
