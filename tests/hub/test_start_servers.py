"""``python -m marginloops start-servers`` against a real JupyterHub on 127.0.0.1: a group's
servers started before class, then asked again (already running), with a user the hub does
not know, all with the token of deploy/jupyterhub_config.py's ``class-starter`` service (so its
role's scopes are shown to be enough). Needs jupyterhub and the npm proxy (.ci/run installs
both); skipped without them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import hubharness as H
import pytest
import requests
from test_deploy_config import load_hub_config

pytestmark = [
    pytest.mark.skipif(H.jupyterhub_command() is None, reason="jupyterhub is not installed"),
    pytest.mark.skipif(H.proxy_command() is None,
                       reason=f"configurable-http-proxy is not in {H.PROXY_CACHE}/chp"),
]


TOKEN = "class-starter-test-token-0123456789abcdef"


def class_starter_config(state):
    """deploy/jupyterhub_config.py's class-starter service and role, as it defines them when
    its token file is in ``state``, as config lines for the harness's hub (which replaces the
    deployed services with its own)."""
    (state / "class-starter-token").write_text(TOKEN + "\n")
    config = load_hub_config(state)
    service = next(s for s in config.JupyterHub.services if s["name"] == "class-starter")
    role = next(r for r in config.JupyterHub.load_roles if r["name"] == "class-starter")
    assert service["api_token"] == TOKEN
    return (f"c.JupyterHub.services.append({service!r})",
            f"c.JupyterHub.load_roles.append({role!r})")


def start_servers(hub, *args):
    return subprocess.run(
        [sys.executable, "-m", "marginloops", "start-servers", "--hub", hub.url, *args],
        env=dict(os.environ, JUPYTERHUB_API_TOKEN=TOKEN), capture_output=True, text=True,
        timeout=300)


def test_a_groups_servers_start_and_a_second_call_finds_them_running(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    with H.Hub(tmp_path / "hub", hub_config=class_starter_config(state)) as hub, \
            hub.session() as api:
        api.post(f"{hub.url}/hub/api/users", json={"usernames": ["ann", "bob", "cem"]}
                 ).raise_for_status()
        api.post(f"{hub.url}/hub/api/groups/class-a", json={"users": ["ann", "bob"]}
                 ).raise_for_status()

        first = start_servers(hub, "--group", "class-a", "--at-a-time", "1")
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert sorted(lines[:2]) == ["ann: ready", "bob: ready"]
        assert lines[2].startswith("2 of 2 servers running (0 were already) after ")

        def ready(name):
            server = requests.get(f"{hub.url}/hub/api/users/{name}", timeout=30,
                                  headers={"Authorization": f"token {hub.token}"}
                                  ).json()["servers"].get("")
            return bool(server and server["ready"])

        assert ready("ann") and ready("bob") and not ready("cem")  # only the group's
        # the servers answer through the proxy, as a student's browser reaches them
        for name in ("ann", "bob"):
            assert api.get(f"{hub.url}/user/{name}/api/status", timeout=30).status_code == 200

        again = start_servers(hub, "--users", "ann,nobody")
        assert again.returncode == 1
        assert again.stdout.splitlines()[:2] == ["ann: already running",
                                                 "nobody: failed: no such user on the hub"]
        assert again.stdout.splitlines()[2].endswith("failed: nobody")
    assert hub.leftover == []
