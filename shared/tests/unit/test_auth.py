"""Tokens and the role and branch-scope checks."""
import time

import jwt
import pytest

from shared.auth import (BRANCH_MANAGER, BRANCH_STAFF, ORG_ADMIN, AuthError, Forbidden, Principal, TokenIssuer,
                         TokenVerifier, generate_keypair, require_role_in)

STAFF = Principal(id="pe_s", branch_roles={"br_a": frozenset({BRANCH_STAFF})})
MANAGER = Principal(id="pe_m", branch_roles={"br_a": frozenset({BRANCH_MANAGER})})
ADMIN = Principal(id="pe_o", roles=frozenset({ORG_ADMIN}))
CLIENT = Principal(id="pe_c", home_branch="br_a")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("k")
    generate_keypair(d / "priv.pem", d / "pub.pem")
    return TokenIssuer((d / "priv.pem").read_bytes(), "cocreate-directory"), \
        TokenVerifier((d / "pub.pem").read_bytes(), "cocreate-directory"), d


def test_a_token_round_trips_roles_and_branch_scope(pair):
    issuer, verifier, _ = pair
    principal = verifier.verify(issuer.issue(MANAGER))
    assert principal.id == "pe_m" and principal.branch_roles == {"br_a": frozenset({BRANCH_MANAGER})}


def test_an_expired_token_is_refused_even_after_it_was_verified_once(pair):
    issuer, verifier, _ = pair
    token = issuer.issue(STAFF, ttl_seconds=1)
    assert verifier.verify(token).id == STAFF.id  # remembered from now on, until it expires
    time.sleep(2.1)
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(token)


def test_a_verified_token_is_remembered_and_the_memory_is_bounded(pair, monkeypatch):
    issuer, verifier, _ = pair
    monkeypatch.setattr(verifier, "CACHE_SIZE", 3)
    tokens = [issuer.issue(STAFF) for _ in range(5)]
    first = verifier.verify(tokens[0])
    assert verifier.verify(tokens[0]) is first  # not decoded again
    for token in tokens[1:]:
        verifier.verify(token)
    assert len(verifier._verified) == 3 and tokens[0] not in verifier._verified


def test_a_tampered_token_is_refused(pair):
    issuer, verifier, _ = pair
    header, payload, signature = issuer.issue(CLIENT).split(".")
    forged = jwt.utils.base64url_encode(jwt.utils.base64url_decode(payload).replace(b'"roles":[]',
                                                                                     b'"roles":["org_admin"]'))
    with pytest.raises(AuthError):
        verifier.verify(f"{header}.{forged.decode()}.{signature}")


def test_a_token_signed_by_another_key_is_refused(pair, tmp_path):
    _, verifier, _ = pair
    generate_keypair(tmp_path / "p", tmp_path / "q")
    foreign = TokenIssuer((tmp_path / "p").read_bytes(), "cocreate-directory")
    with pytest.raises(AuthError):
        verifier.verify(foreign.issue(ADMIN))


def test_an_unsigned_token_is_refused(pair):
    _, verifier, _ = pair
    token = jwt.encode({"sub": "x", "roles": ["org_admin"], "iss": "cocreate-directory", "aud": "cocreate",
                        "exp": time.time() + 60, "iat": time.time()}, key=None, algorithm="none")
    with pytest.raises(AuthError):
        verifier.verify(token)


@pytest.mark.parametrize("principal, branch, allowed", [
    (STAFF, "br_a", True), (STAFF, "br_b", False), (MANAGER, "br_a", True), (ADMIN, "br_b", True),
    (CLIENT, "br_a", False),
])
def test_staff_act_only_in_their_own_branches(principal, branch, allowed):
    if allowed:
        assert require_role_in(principal, branch, [BRANCH_STAFF, BRANCH_MANAGER]) is principal
    else:
        with pytest.raises(Forbidden):
            require_role_in(principal, branch, [BRANCH_STAFF, BRANCH_MANAGER])


def test_anonymous_is_asked_to_sign_in():
    with pytest.raises(AuthError):
        require_role_in(None, "br_a", [BRANCH_STAFF])
