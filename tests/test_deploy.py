"""deploy/: the compose file, the systemd units and the proxy package agree with the settings the bot reads
(PostgreSQL + two processes with one shard each + the REST proxy), without running Docker or systemd."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.runtime.settings import load_settings
from tests.conftest import FAKE_TOKEN

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _documented_keys() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z_]+)=", text, re.MULTILINE))


def test_compose_runs_every_shard_once_through_the_proxy_on_one_database() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "proxy"} <= services.keys()
    bots = {name: s for name, s in services.items() if name.startswith("shard-")}
    assert len(bots) == 2
    database = services["postgres"]["environment"]["POSTGRES_DB"]
    assert "--locale=C.UTF-8" in services["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]
    proxy_port = services["proxy"]["environment"]["PROXY_PORT"]
    owned: list[int] = []
    counts = set()
    for name, service in bots.items():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert set(env) <= _documented_keys(), f"{name} sets a key .env.example does not document"
        assert env["DISCORD_API_BASE"] == f"http://proxy:{proxy_port}/api/v10"
        assert env["DATABASE_URL"].endswith(f"@postgres:5432/{database}")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        url = env["DATABASE_URL"].replace("${POSTGRES_PASSWORD}", "secret")
        settings = load_settings({**env, "DATABASE_URL": url, "DISCORD_TOKEN": FAKE_TOKEN})
        assert settings.dev_guild_id is None  # commands sync globally, from shard 0
        counts.add(settings.shard_count)
        owned += settings.shard_ids or ()
    (count,) = counts
    assert sorted(owned) == list(range(count))  # every shard in exactly one process


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> every value (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def test_systemd_template_takes_its_shards_from_the_instance_name() -> None:
    unit = _unit(DEPLOY / "systemd" / "rumormill@.service")
    service = unit["Service"]
    assert service["ExecStart"] == ["/opt/rumormill/.venv/bin/python -m bot"]
    assert "SHARD_IDS=%i" in service["Environment"]
    assert any(value.startswith("DATABASE_PATH=") and "%i" in value for value in service["Environment"])
    assert service["KillSignal"] == ["SIGTERM"]
    assert "rumormill-proxy.service" in unit["Unit"]["After"][0]
    proxy = _unit(DEPLOY / "systemd" / "rumormill-proxy.service")
    assert proxy["Service"]["ExecStart"] == ["/usr/bin/node server.mjs"]
    assert "PROXY_HOST=127.0.0.1" in proxy["Service"]["Environment"]


def test_proxy_versions_are_pinned_and_locked() -> None:
    package = json.loads((DEPLOY / "proxy" / "package.json").read_text())
    lock = json.loads((DEPLOY / "proxy" / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert all("integrity" in entry for path, entry in lock["packages"].items() if path)
    assert (DEPLOY / "proxy" / "server.mjs").exists()
