"""Browser tests: the whole platform (deploy/local/stack.py, as `make up` runs it) on ports and in a folder of
its own, so it never collides with a developer's stack, driven by real Chromium (Debian's package; `make
install` puts it there). Kafka and the store are shared: `make test` starts them, the stack leaves them be."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import close_contexts
from shared.auth import Principal, TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("COCREATE_VAR_DIR", ROOT / "var")).resolve()
SCREENSHOTS = ROOT / "var" / "screenshots"
EDGE_PORT = 18080
STACK_ENV = {
    "EDGE_PORT": str(EDGE_PORT),
    "SERVICES_BASE_PORT": "18001",
    "WORKER_METRICS_BASE_PORT": "19101",
    "COCREATE_STACK_DIR": str(VAR / "browser-stack"),
}
DESKTOP = {"width": 1280, "height": 800}


def _stack(command: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), command], cwd=ROOT,
                          env=dict(os.environ, **STACK_ENV), capture_output=True, text=True, timeout=timeout)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test against the platform shows what its workers said (CI keeps no files)."""
    report = (yield).get_result()
    if report.when == "call" and report.failed and "platform" in item.fixturenames:
        report.sections.append(("the platform's workers: warnings, errors and partitions", _workers_said()))


def _workers_said(last: int = 40) -> str:
    lines = []
    for path in sorted((Path(STACK_ENV["COCREATE_STACK_DIR"]) / "log").glob("*-worker.log")):
        lines += [f"{path.stem}: {line.strip()[:400]}" for line in path.read_text(errors="replace").splitlines()
                  if '"level": "WARNING"' in line or '"level": "ERROR"' in line or "partitions assigned" in line]
    return "\n".join(lines[-last:]) or "(nothing)"


@pytest.fixture(scope="session")
def platform(infra) -> str:
    """The four services and the edge, started once for the session and stopped at its end."""
    up = _stack("up", timeout=240)
    if up.returncode != 0:
        pytest.fail(f"the platform did not start:\n{up.stdout}\n{up.stderr}", pytrace=False)
    yield f"http://127.0.0.1:{EDGE_PORT}"
    _stack("down", timeout=120)


@pytest.fixture
def open_page(browser, platform):
    """open_page(viewport=DESKTOP, locale="he-IL", signed_in=None): a page in a browser context of its own
    (no cookies yet); signed_in is a Principal whose session cookie the context then carries."""
    contexts = []

    def make(viewport: dict = DESKTOP, locale: str = "he-IL", signed_in: Principal | None = None):
        context = browser.new_context(base_url=platform, viewport=viewport, locale=locale,
                                      is_mobile=viewport["width"] < 600, has_touch=viewport["width"] < 600)
        context.set_default_timeout(15_000)
        if signed_in is not None:
            context.add_cookies([{"name": "cocreate_session", "value": session_token(signed_in),
                                  "url": platform, "httpOnly": True, "sameSite": "Lax"}])
        contexts.append(context)
        return context.new_page()

    yield make
    close_contexts(contexts)


@pytest.fixture
def page(open_page):
    return open_page()


def session_token(principal: Principal) -> str:
    """A session as the directory would sign it, with the key the stack's services verify with."""
    private = Path(os.environ.get("JWT_PRIVATE_KEY_FILE", VAR / "keys" / "jwt-private.pem"))
    issuer = TokenIssuer(private.read_bytes(), os.environ.get("JWT_ISSUER", "cocreate-directory"))
    return issuer.issue(principal, ttl_seconds=3600)


@pytest.fixture(scope="session")
def screenshot():
    """screenshot(page, name): the whole page into var/screenshots/<name>.png, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
