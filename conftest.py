"""Fixtures for every test: unit tests need none of them; integration tests get the real broker and store
(started by `make test` / `make infra-up`). A missing broker or store fails the test, it never skips."""
from __future__ import annotations

import contextlib
import html
import os
import re
import signal
import socket
import threading
import uuid
import warnings
from pathlib import Path

import pytest

from shared.auth import ORG_ADMIN, Principal, TokenIssuer, generate_keypair
from shared.config import load_settings

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")
MONGO = os.environ.get("MONGO_URL", f"mongodb://127.0.0.1:{os.environ.get('STORE_PORT', '27017')}/")
RUN_ID = uuid.uuid4().hex[:8]
# The suite's topics, consumer groups and databases are its own ("test.cocreate.ideas", ...), for this process and
# every one it starts (the browser tests' platform): a developer's platform on the same broker and store never
# takes in what the tests publish, nor the tests what it does.
os.environ["COCREATE_NAMESPACE"] = "test"


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def infra():
    """The real Kafka broker and store; fails loudly when they are not running."""
    store = MONGO.split("//", 1)[1].split("/", 1)[0]
    missing = [name for name, addr in (("Kafka", KAFKA.split(",")[0]), ("store", store)) if not _reachable(addr)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not reachable: start them with `make infra-up` "
                    "(make test does it for you)", pytrace=False)
    return {"kafka": KAFKA, "mongo": MONGO}


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    private, public = folder / "jwt-private.pem", folder / "jwt-public.pem"
    generate_keypair(private, public)
    return {"private": private, "public": public}


@pytest.fixture(scope="session")
def issue_token(keys):
    """issue_token(principal) -> a signed access token, as the directory would issue it."""
    issuer = TokenIssuer(keys["private"].read_bytes(), "cocreate-directory", 900)
    return issuer.issue


@pytest.fixture
def admin_token(issue_token):
    return issue_token(Principal(id="pe_admin", name="Admin", roles=frozenset({ORG_ADMIN})))


_created_dbs: list[tuple[str, str]] = []


@pytest.fixture
def make_settings(infra, keys):
    """make_settings(service, **overrides): settings on a fresh database of the real store."""

    def make(service: str, **overrides):
        values = dict(
            kafka_bootstrap_servers=tuple(infra["kafka"].split(",")),
            mongo_url=infra["mongo"],
            mongo_db=f"t_{service}_{RUN_ID}_{uuid.uuid4().hex[:6]}",
            jwt_public_key_file=str(keys["public"]),
            jwt_private_key_file=str(keys["private"]),
            outbox_poll_seconds=0.02,
            # The tests read a write's events in its document's outbox; those of publishing at once ask for it.
            outbox_publish_at_once="none",
            consumer_backoff_seconds=0.01,
        )
        values.update(overrides)
        settings = load_settings(service, **values)
        _created_dbs.append((settings.mongo_url, settings.mongo_db))
        return settings

    return make


def pytest_sessionfinish(session, exitstatus):
    """Drop the databases the tests created, so the store does not grow run after run."""
    if not _created_dbs:
        return
    from pymongo import MongoClient

    for url in {u for u, _ in _created_dbs}:
        client = MongoClient(url, serverSelectionTimeoutMS=2000)
        try:
            for _, name in {d for d in _created_dbs if d[0] == url}:
                client.drop_database(name)
        except Exception:
            pass
        finally:
            client.close()


@pytest.fixture(autouse=True)
def _relay_only_after_each_test():
    """A test that has this process publish its writes' events at once (a process-wide choice, shared/outbox.py:
    an app made with OUTBOX_PUBLISH_AT_ONCE=all, or a publisher set by the test) leaves the relay's way to the
    tests after it, as their settings say."""
    yield
    from shared import outbox

    outbox.publish_at_once_by(None)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "infra" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
    # The browser tests run a whole platform (its workers consume the same topics) until the session ends:
    # they go last, so no other test shares the broker with a stack it did not start.
    items.sort(key=lambda item: "tests/browser/" in item.nodeid)


@pytest.fixture
def producer(make_settings):
    from shared.kafka import make_producer

    p = make_producer(make_settings("directory"))
    yield p
    p.close(timeout=5)


@pytest.fixture
def consumer_at_end(make_settings):
    """consumer_at_end(service, topics): a consumer of a fresh group of that service, positioned at the
    end of the topics, so a test sees only what it causes (the topics keep every earlier run's events)."""
    from shared.kafka import consumer_at_end as at_end

    made = []

    def make(service: str, topics: list[str], **overrides):
        consumer = at_end(make_settings(service), f"test-{service}", topics, **overrides)
        made.append(consumer)
        return consumer

    yield make
    for consumer in made:
        try:
            consumer.close()
        except Exception:
            pass


CHROMIUM = "/usr/bin/chromium"  # Debian's package: the browser download of test tools does not work here
# Needed on this kind of machine (a container without a sandbox, a GPU or a way out to Google's services).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def _chromium():
    """Playwright, and the Chromium it launched (launched again if a hung close had it killed)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make install` (Debian's chromium package)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        held = {"launch": lambda: playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                             headless=True)}
        held["browser"] = held["launch"]()
        yield held
        with browser_watchdog(30):
            held["browser"].close()


@pytest.fixture
def browser(_chromium):
    """Real Chromium through Playwright, for the browser tests (services' own and tests/browser/)."""
    if not _chromium["browser"].is_connected():
        _chromium["browser"] = _chromium["launch"]()
    return _chromium["browser"]


def close_contexts(contexts, seconds: float = 60) -> None:
    """Close a test's browser contexts. Chromium now and then never answers a close (twice in CI, at the end
    of a test that had just started a navigation): after `seconds` the watchdog kills it, the close returns
    an error, and that is a warning here, not the test's failure (its assertions have run); the next test
    gets a new Chromium."""
    from playwright.sync_api import Error as PlaywrightError

    with browser_watchdog(seconds):
        for context in contexts:
            try:
                context.close()
            except PlaywrightError as exc:
                warnings.warn(f"a browser context did not close (Chromium killed after {seconds:.0f} s): {exc}")
                return


def _chromium_processes() -> list[int]:
    """Chromium processes started (through Playwright's driver) by this test process, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                frontier.append(pid)
                try:
                    if "chromium" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode():
                        found.append(pid)
                except OSError:
                    continue
    return found


@contextlib.contextmanager
def browser_watchdog(seconds: float):
    """Closing a context or the browser waits on Chromium, which now and then never answers (a CI run once hung
    in the last teardown until the suite's timeout). After `seconds`, Chromium is killed: Playwright then sees
    the browser gone and the close returns."""
    def kill() -> None:
        for pid in _chromium_processes():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


class PageVisitor:
    """A browser of one signed-in person (or of nobody) on one service's pages, through Flask's test client: their
    session cookie, a language, and the CSRF token every page of the frame carries (read from `csrf_page`)."""

    CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

    def __init__(self, app, prefix: str, token: str | None, lang: str = "en", csrf_page: str = "/"):
        self.client = app.test_client()
        self.prefix, self.csrf_page = prefix, csrf_page
        if token:
            self.client.set_cookie("cocreate_session", token)
        self.client.set_cookie("cocreate_lang", lang)
        self._csrf = None

    def get(self, path: str):
        return self.client.get(f"{self.prefix}{path}")

    def page(self, path: str, status: int = 200) -> str:
        response = self.get(path)
        assert response.status_code == status, response.get_data(as_text=True)[:3000]
        return response.get_data(as_text=True)

    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = self.CSRF.search(self.page(self.csrf_page)).group(1)
        return self._csrf

    def post(self, path: str, data: dict | None = None, csrf: bool = True):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf()
        return self.client.post(f"{self.prefix}{path}", data=data)


def text_of(page: str) -> str:
    """A page's text, without tags, unescaped, spaces collapsed (what a reader sees)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def direction(page: str) -> tuple[str, str]:
    """(lang, dir) of a page's <html>."""
    return re.search(r'<html lang="(\w+)" dir="(\w+)">', page).groups()


class ApiClient:
    """A service's JSON API through Flask's test client: `call` returns the response, `ok` asserts the
    status and returns the JSON body."""

    def __init__(self, client, prefix: str):
        self.client = client
        self.prefix = prefix

    def call(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(f"{self.prefix}{path}", method=method, headers=headers, **kwargs)

    def ok(self, method, path, token=None, status=200, **kwargs):
        response = self.call(method, path, token, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json if response.get_data() else None


def poll_until(consumer, predicate, timeout: float = 20.0) -> list:
    """Poll a consumer until predicate(records so far) holds; returns the records."""
    import time

    records: list = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
        if predicate(records):
            return records
    raise AssertionError(f"condition not met within {timeout} s; got {len(records)} records")


def wait_for(predicate, timeout: float = 20.0, every: float = 0.05) -> None:
    """Wait until predicate() is true (asynchronous effects: a consumer's write, a relay's publication)."""
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")
