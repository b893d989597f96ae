"""deploy/: the Zero to JupyterHub values and the plain JupyterHub configuration are well formed,
and every key they set is one the chart / JupyterHub knows (a misspelt key is silently ignored
by both, which is why this is checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# The chart's keys this file may set, with the chart's default, copied by hand from
# jupyterhub/values.yaml in github.com/jupyterhub/zero-to-jupyterhub-k8s at 48ea50e (July 2026).
CHART_KEYS = {
    "singleuser.image.name": "quay.io/jupyterhub/k8s-singleuser-sample",
    "singleuser.image.tag": "set-by-chartpress",
    "singleuser.defaultUrl": None,
    "singleuser.startTimeout": 300,
    "singleuser.memory.guarantee": "1G",
    "singleuser.memory.limit": None,
    "singleuser.cpu.guarantee": None,
    "singleuser.cpu.limit": None,
    "singleuser.storage.capacity": "10Gi",
    "cull.enabled": True,
    "cull.timeout": 3600,
    "cull.every": 600,
    "hub.concurrentSpawnLimit": 64,
    "prePuller.hook.enabled": True,
    "prePuller.continuous.enabled": True,
    "scheduling.userScheduler.enabled": True,
    "scheduling.userPlaceholder.enabled": True,
    "scheduling.userPlaceholder.replicas": 0,
}


def _leaves(tree, prefix=""):
    for key, value in tree.items():
        path = prefix + key
        if isinstance(value, dict) and path != "hub.config":
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def _bytes(text):
    """Kubernetes quantities as the chart writes them (K, M, G suffixes, powers of 1000)."""
    units = {"K": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * units[unit]
    return float(text)


def test_z2jh_values_use_only_the_charts_keys_and_sane_sizes():
    yaml = pytest.importorskip("yaml")  # PyYAML: pinned in binder/requirements.txt
    values = yaml.safe_load((DEPLOY / "z2jh" / "values.yaml").read_text(encoding="utf-8"))
    leaves = dict(_leaves(values))
    unknown = set(leaves) - set(CHART_KEYS) - {"hub.config"}
    assert not unknown, f"keys the chart does not have: {sorted(unknown)}"
    assert leaves["cull.enabled"] is True and leaves["cull.timeout"] > 0
    assert leaves["singleuser.defaultUrl"] == "/lab"
    # a tag of digits only would be read as a number: it must stay a string
    assert isinstance(leaves["singleuser.image.tag"], str)
    guarantee, limit = (_bytes(leaves[f"singleuser.memory.{k}"]) for k in ("guarantee", "limit"))
    # the guarantee covers a measured student (242 MiB PSS with the kernel fork server) with
    # a fifth to spare, and is below the limit
    assert 242 * 1.2 * 2**20 < guarantee < limit
    assert 0 < leaves["singleuser.cpu.guarantee"] < leaves["singleuser.cpu.limit"]
    assert values["hub"]["config"]["Spawner"]["http_timeout"] >= 120
    assert values["hub"]["config"]["JupyterHub"]["implicit_spawn_seconds"] > 0


def load_hub_config(state=None):
    """deploy/jupyterhub_config.py, run as JupyterHub runs it (get_config() in its namespace);
    ``state``: its MARGINLOOPS_HUB_STATE folder (default: one that does not exist)."""
    from traitlets.config import Config

    config = Config()
    source = (DEPLOY / "jupyterhub_config.py").read_text(encoding="utf-8")
    before = os.environ.get("MARGINLOOPS_HUB_STATE")
    os.environ["MARGINLOOPS_HUB_STATE"] = str(state or ROOT / "no-such-hub-state")
    try:
        exec(compile(source, str(DEPLOY / "jupyterhub_config.py"), "exec"),
             {"get_config": lambda: config, "__file__": str(DEPLOY / "jupyterhub_config.py")})
    finally:
        if before is None:
            os.environ.pop("MARGINLOOPS_HUB_STATE")
        else:
            os.environ["MARGINLOOPS_HUB_STATE"] = before
    return config


def test_jupyterhub_config_compiles():
    compile((DEPLOY / "jupyterhub_config.py").read_text(encoding="utf-8"), "config", "exec")
    config = load_hub_config()
    assert config.Spawner.default_url == "/lab"
    assert config.Spawner.start_timeout == config.Spawner.http_timeout == 120
    culler = config.JupyterHub.services[0]
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    role = config.JupyterHub.load_roles[0]
    assert role["services"] == [culler["name"]]
    assert set(role["scopes"]) == {"list:users", "read:users:activity", "servers"}


def test_the_class_starter_service_exists_only_with_its_token_file(tmp_path):
    config = load_hub_config()
    assert [s["name"] for s in config.JupyterHub.services] == ["idle-culler"]
    (tmp_path / "class-starter-token").write_text("abc123\n")
    config = load_hub_config(tmp_path)
    starter = config.JupyterHub.services[1]
    assert starter == {"name": "class-starter", "api_token": "abc123"}
    role = config.JupyterHub.load_roles[1]
    assert role["services"] == ["class-starter"]
    # what marginloops.hubstart's calls need: list and read users and groups, start servers
    assert set(role["scopes"]) == {"list:users", "read:users", "read:groups", "servers"}


def test_every_jupyterhub_setting_is_a_trait_of_its_class():
    pytest.importorskip("jupyterhub")
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator, LocalAuthenticator
    from jupyterhub.spawner import LocalProcessSpawner, Spawner

    classes = {cls.__name__: cls for cls in
               (JupyterHub, Spawner, LocalProcessSpawner, Authenticator, LocalAuthenticator)}
    config = load_hub_config()
    for section, settings in config.items():
        assert section in classes, f"unexpected section {section}"
        traits = classes[section].class_traits(config=True)
        for key in settings:
            assert key in traits, f"{section}.{key} is not a setting of {section}"
    # the values are accepted by the classes (a wrong type would raise TraitError)
    app = JupyterHub(config=config)
    assert app.concurrent_spawn_limit == 100
    assert 0 < app.implicit_spawn_seconds <= 1  # a link starts a stopped server at once
    assert Spawner(config=config).mem_limit == 2**30


def test_tljh_script_is_valid_bash_and_uses_binders_pins():
    script = DEPLOY / "tljh" / "install-course.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert "binder/requirements.txt" in text and "-c /tmp/marginloops-constraints.txt" in text
    for key in ("limits.memory", "limits.cpu", "user_environment.default_app",
                "services.cull.timeout"):
        assert f"tljh-config set {key}" in text
    assert "c.JupyterHub.implicit_spawn_seconds = 0.5" in text
    # every package it asks for is pinned by Binder or pinned here
    pins = {line.split("==")[0].lower() for line in
            (ROOT / "binder" / "requirements.txt").read_text().splitlines() if "==" in line}
    for line in (DEPLOY / "tljh" / "requirements.txt").read_text().splitlines():
        name = line.split("#")[0].strip()
        if name:
            assert "==" in name or name.lower() in pins, name


def _tljh_snippet() -> str:
    """The jupyterhub_config.d file install-course.sh writes for TLJH."""
    text = (DEPLOY / "tljh" / "install-course.sh").read_text(encoding="utf-8")
    return text.split("<<'CONFIG'\n", 1)[1].split("\nCONFIG", 1)[0]


def test_every_deployment_switches_the_kernel_fork_server_on():
    """The students' servers of all three deployments get marginloops.kernelfork's argument,
    and a Jupyter server reading it enables the extension (nothing else)."""
    from traitlets.config import Config

    from marginloops.kernelfork import SERVER_ARGUMENT

    plain = list(load_hub_config().Spawner.args)
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load((DEPLOY / "z2jh" / "values.yaml").read_text(encoding="utf-8"))
    z2jh = values["hub"]["config"]["Spawner"]["args"]
    tljh_config = Config()
    exec(compile(_tljh_snippet(), "tljh-snippet", "exec"), {"c": tljh_config})
    tljh = list(tljh_config.Spawner.args.get_value([]))
    assert tljh_config.JupyterHub.implicit_spawn_seconds == 0.5
    for args in (plain, z2jh, tljh):
        assert args == [SERVER_ARGUMENT]
    from jupyter_server.serverapp import ServerApp

    app = ServerApp()
    app.parse_command_line([SERVER_ARGUMENT])
    assert dict(app.config.ServerApp.jpserver_extensions) == {"marginloops.kernelfork": True}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
