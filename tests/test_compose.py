"""Static checks of docker-compose.yml, the services' Dockerfiles and the nginx edge template.

No Docker engine needed: the files are parsed and compared with what the code reads from the environment
and with what .env.example documents."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_TEMPLATE = ROOT / "deploy/nginx/cocreate.conf.template"
SERVICES = ("directory", "ideas", "feedback", "notifications")
ONE_SHOT = {"keys-init"}  # runs to completion; every other compose service runs for good
INFRA = {"kafka", "edge", "mailpit", *(f"mongo-{name}" for name in SERVICES)}
# Read by shared code but only meaningful under gunicorn: prometheus_client goes multiprocess as soon as the
# variable exists and then writes into a directory only gunicorn creates, so a worker must NOT have it.
WEB_ONLY = {"PROMETHEUS_MULTIPROC_DIR"}

_NAME = r"""["']([A-Z][A-Z0-9_]*)["']"""
# env.str("X", ...), env.int(...), env.float/list/bool/... and env("X"); os.environ.get/setdefault("X");
# os.getenv("X"); os.environ["X"]. \s* spans newlines, so a call split across lines is caught too.
ENV_READ = re.compile(
    rf"""(?:\benv(?:\.[a-z_]+)?|\bos\.environ\.(?:get|setdefault)|\bos\.getenv)\(\s*{_NAME}"""
    rf"""|\bos\.environ\[\s*{_NAME}\s*\]"""
)
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


# --- helpers ----------------------------------------------------------------------------------------------
def names_read(text: str) -> set[str]:
    return {a or b for a, b in ENV_READ.findall(text)}


def interpolate(value: str) -> str:
    """What compose makes of a value when nothing is set in the environment or .env: the defaults."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", str(value)).replace("$$", "$")


def env_example() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """.env.example as {section title: {name: value}} and {name: value}."""
    sections: dict[str, dict[str, str]] = {}
    title = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        header = re.match(r"#\s*---\s*(.*?)\s*-{3,}\s*$", line)
        if header:
            title = header.group(1)
            sections.setdefault(title, {})
            continue
        var = re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line)
        if var:
            sections.setdefault(title, {})[var.group(1)] = re.split(r"\s+#", var.group(2), maxsplit=1)[0].strip()
    return sections, {name: value for section in sections.values() for name, value in section.items()}


def section(prefix: str) -> dict[str, str]:
    found = [values for title, values in env_example()[0].items() if title.startswith(prefix)]
    assert found, f".env.example has no '# --- {prefix} ...' section"
    return found[0]


LOCAL_ONLY = set(section("local path only"))


def code_reads() -> dict[str, set[str]]:
    """Variables read by the code, by where they are needed: 'all', 'web' or one service's name."""
    scopes: dict[str, set[str]] = {"all": set(), "web": set(), **{name: set() for name in SERVICES}}
    sources = [(p, "all") for p in (ROOT / "shared").rglob("*.py")]
    sources += [(p, p.relative_to(ROOT / "services").parts[0] if len(p.relative_to(ROOT / "services").parts) > 1
                 else "all") for p in (ROOT / "services").rglob("*.py")]
    sources.append((ROOT / "deploy/gunicorn.conf.py", "web"))
    for path, scope in sources:
        if "tests" in path.relative_to(ROOT).parts:
            continue
        scopes.setdefault(scope, set()).update(names_read(path.read_text()) - LOCAL_ONLY)
    return scopes


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def app_services():
    """(compose service, service name, role) of every web and worker."""
    for name in SERVICES:
        yield f"{name}-web", name, "web"
        yield f"{name}-worker", name, "worker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# --- the file and its services -------------------------------------------------------------------------------
def test_compose_file_parses_and_defines_every_part_of_the_platform(services):
    expected = INFRA | ONE_SHOT | {svc for svc, _, _ in app_services()}
    missing = expected - set(services)
    assert not missing, f"docker-compose.yml lacks the services {sorted(missing)}"


def test_every_long_running_service_has_a_healthcheck(services):
    missing = [name for name, svc in services.items() if name not in ONE_SHOT and (
        not svc.get("healthcheck") or svc["healthcheck"].get("disable")
        or svc["healthcheck"].get("test") in (None, ["NONE"], "NONE"))]
    assert not missing, f"services without a healthcheck: {missing}"


def test_every_long_running_service_restarts_unless_stopped(services):
    wrong = [name for name, svc in services.items() if name not in ONE_SHOT and svc.get("restart") != "unless-stopped"]
    assert not wrong, f"services without restart: unless-stopped: {wrong}"


def test_every_image_is_pinned_to_a_tag_that_is_not_latest(services):
    problems = []
    for name, svc in services.items():
        image = svc.get("image")
        if not image:
            problems.append(f"{name}: no image")
            continue
        repo, _, tag = interpolate(image).rpartition(":")
        if not repo or "/" in tag or not tag:
            problems.append(f"{name}: {image} has no tag")
        elif tag == "latest":
            problems.append(f"{name}: {image} is latest")
        elif "build" not in svc and not re.search(r"\d+\.\d+", tag) and not any(
                s.get("image") == image and "build" in s for s in services.values()):
            problems.append(f"{name}: {image} is not pinned to a version (major.minor at least)")
    assert not problems, "images not pinned: " + "; ".join(problems)


def test_each_web_and_worker_depends_on_kafka_and_its_own_mongo_being_healthy(services):
    problems = []
    for svc, name, _ in app_services():
        deps = services[svc].get("depends_on") or {}
        for dep, condition in (("kafka", "service_healthy"), (f"mongo-{name}", "service_healthy"),
                               ("keys-init", "service_completed_successfully")):
            got = deps.get(dep, {}).get("condition") if isinstance(deps, dict) else None
            if got != condition:
                problems.append(f"{svc} -> {dep} ({condition}, got {got})")
        url = environment(services[svc]).get("MONGO_URL", "")
        if f"//mongo-{name}:" not in url:
            problems.append(f"{svc}: MONGO_URL {url!r} is not mongo-{name}")
    assert not problems, "missing dependencies: " + "; ".join(problems)


def test_web_and_worker_of_a_service_share_the_image_built_from_its_dockerfile(services):
    problems = []
    for name in SERVICES:
        web, worker = services[f"{name}-web"], services[f"{name}-worker"]
        build = web.get("build") or {}
        if build.get("context") != "." or build.get("dockerfile") != f"services/{name}/Dockerfile":
            problems.append(f"{name}-web: build is {build}")
        if not str(web.get("image", "")).startswith(f"cocreate/{name}:"):
            problems.append(f"{name}-web: image {web.get('image')}")
        if worker.get("image") != web.get("image"):
            problems.append(f"{name}-worker: image {worker.get('image')} differs from the web's")
        if worker.get("command") != ["python", "-m", f"services.{name}.worker"]:
            problems.append(f"{name}-worker: command {worker.get('command')}")
        if not (ROOT / f"services/{name}/Dockerfile").is_file():
            problems.append(f"services/{name}/Dockerfile is missing")
    assert not problems, "; ".join(problems)


def test_each_service_image_runs_gunicorn_as_pid_1_as_a_non_root_user():
    problems = []
    for name in SERVICES:
        path = ROOT / f"services/{name}/Dockerfile"
        text = path.read_text() if path.is_file() else ""
        if not re.search(r"^FROM python:3\.11\.\d+-slim-bookworm\s*$", text, re.M):
            problems.append(f"{name}: base is not a pinned python:3.11.x-slim-bookworm")
        users = re.findall(r"^USER\s+(\S+)", text, re.M)
        if not users or users[-1] in ("root", "0"):
            problems.append(f"{name}: does not switch to a non-root USER")
        cmd = f'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "services.{name}.wsgi:app"]'
        if cmd not in text:
            problems.append(f"{name}: no exec-form {cmd}")
    assert not problems, "; ".join(problems)


def test_jwt_keys_are_created_once_and_mounted_read_only_everywhere_else(services):
    init = services["keys-init"]
    assert init.get("restart") == "no", "keys-init must be one-shot (restart: 'no')"
    assert "ensure_keypair" in " ".join(init.get("command") or []), "keys-init does not call ensure_keypair"
    assert "jwt-keys:/run/cocreate/keys" in init.get("volumes", []), "keys-init does not write the jwt-keys volume"
    not_ro = [svc for svc, _, _ in app_services() if "jwt-keys:/run/cocreate/keys:ro" not in services[svc].get("volumes", [])]
    assert not not_ro, f"services without jwt-keys mounted read-only at /run/cocreate/keys: {not_ro}"


# --- the edge --------------------------------------------------------------------------------------------------
def test_edge_routes_every_service_prefix_to_its_web(services):
    template = NGINX_TEMPLATE.read_text()
    locations = dict(re.findall(r"location\s+/(\w+)/\s*\{[^}]*?proxy_pass\s+http://(\w+)\s*;", template))
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{[^}]*?server\s+\$\{(\w+)\}", template))
    edge = services["edge"]
    env = environment(edge)
    problems = []
    for name in SERVICES:
        if name not in locations:
            problems.append(f"no 'location /{name}/ {{ proxy_pass ... }}' in {NGINX_TEMPLATE.name}")
            continue
        variable = upstreams.get(locations[name])
        if not variable:
            problems.append(f"/{name}/ proxies to upstream {locations[name]!r}, which has no server ${{...}}")
        elif env.get(variable) != f"{name}-web:8000":
            problems.append(f"edge sets {variable}={env.get(variable)!r}, not {name}-web:8000")
    mounts = [m for m in edge.get("volumes", []) if m.split(":")[1].startswith("/etc/nginx/templates/")]
    if not any(m.split(":")[0] == "./deploy/nginx/cocreate.conf.template" for m in mounts):
        problems.append("edge does not mount deploy/nginx/cocreate.conf.template under /etc/nginx/templates/")
    assert not problems, "; ".join(problems)


def test_edge_listens_on_8080_and_publishes_it(services):
    edge = services["edge"]
    listen = re.search(r"listen\s+\$\{(\w+)\}", NGINX_TEMPLATE.read_text())
    assert listen, "the nginx template has no 'listen ${...}'"
    assert environment(edge).get(listen.group(1)) == "8080", f"edge does not set {listen.group(1)}=8080"
    published = [interpolate(p).rsplit(":", 2)[-2:] for p in edge.get("ports", []) if isinstance(p, str)]
    assert ["8080", "8080"] in published, f"edge does not publish container port 8080 (ports: {edge.get('ports')})"


# --- configuration ------------------------------------------------------------------------------------------
def test_env_scanner_catches_every_form_of_reading_including_calls_split_across_lines():
    sample = '''
        a = env.str("A_STR", "x"); b = env.int(
            "B_SPLIT",
            3,
        )
        c = env.float('C_FLOAT', 0.1); d = env.list("D_LIST", []); e = env.bool("E_BOOL", False)
        f = os.environ.get("F_GET"); g = os.environ["G_ITEM"]; os.environ.setdefault(
            "H_SETDEFAULT", "1")
        i = os.getenv("I_GETENV"); j = env("J_CALL")
        not_this = environment.get("NOPE"); nor = f("lower_case")
    '''
    assert names_read(sample) == {"A_STR", "B_SPLIT", "C_FLOAT", "D_LIST", "E_BOOL", "F_GET", "G_ITEM",
                                  "H_SETDEFAULT", "I_GETENV", "J_CALL"}


def test_the_scan_finds_the_variables_of_shared_config():
    found = code_reads()["all"]
    assert {"KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL", "JWT_PUBLIC_KEY_FILE"} <= found, f"scan found only {sorted(found)}"


def test_every_variable_the_code_reads_is_set_for_every_web_and_worker(services):
    scopes = code_reads()
    problems = []
    for svc, name, role in app_services():
        needed = scopes["all"] | scopes.get(name, set()) | (scopes["web"] if role == "web" else set())
        if role == "worker":
            needed -= WEB_ONLY
        missing = needed - set(environment(services[svc]))
        if missing:
            problems.append(f"{svc} lacks {sorted(missing)}")
    assert not problems, "; ".join(problems)


def test_workers_never_get_the_prometheus_multiprocess_dir(services):
    wrong = [svc for svc, _, role in app_services() if role == "worker" and WEB_ONLY & set(environment(services[svc]))]
    assert not wrong, f"workers with {sorted(WEB_ONLY)} (prometheus_client would crash them): {wrong}"


def test_every_variable_the_code_reads_is_documented_in_env_example():
    documented = set(env_example()[1])
    read = set().union(*code_reads().values())
    missing = read - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_every_documented_variable_reaches_the_containers_that_use_it(services):
    problems = []
    for svc, name, role in app_services():
        wanted = set(section("every service")) | set(section("web" if role == "web" else "workers"))
        if name == "directory":
            wanted |= set(section("directory"))
        missing = wanted - set(environment(services[svc]))
        if missing:
            problems.append(f"{svc} lacks {sorted(missing)}")
    assert not problems, "; ".join(problems)


def test_shared_environment_defaults_match_env_example(compose):
    documented = env_example()[1]
    problems = []
    for anchor in ("x-service-env", "x-web-env", "x-directory-env"):
        for key, value in (compose.get(anchor) or {}).items():
            m = re.fullmatch(r"\$\{(\w+):-(.*)\}", str(value))
            if not m or m.group(1) != key:
                problems.append(f"{anchor}.{key} is {value!r}, not ${{{key}:-default}}")
            elif key in documented and m.group(2) != documented[key]:
                problems.append(f"{anchor}.{key} defaults to {m.group(2)!r}, .env.example says {documented[key]!r}")
    assert compose.get("x-service-env"), "docker-compose.yml has no x-service-env anchor"
    assert not problems, "; ".join(problems)
