# JupyterHub for a class, on one server, without TLJH: the students are the server's own accounts
# (PAM login), each student's server a local process started from the course's environment.
# See deploy/README.md ("Plain JupyterHub on one server") for the install steps.
#
#     sudo jupyterhub -f deploy/jupyterhub_config.py
#
# Every setting below is a configurable trait of JupyterHub 6.1's classes (tests/hub/
# test_deploy_config.py checks that each one exists); the values come from the measurements of
# 30 students on a 2-core machine (benchmarks/bench_hub.py; deploy/README.md, "Sizing").
# tests/hub/hubharness.py loads this file and then overrides only
# what a test on 127.0.0.1 needs (ports, a shared-password login, no system accounts), so the
# measured hub runs these timeouts and this default URL.
# Sources: JupyterHub's configuration reference
# (https://jupyterhub.readthedocs.io/en/stable/reference/api/app.html, .../api/spawner.html),
# jupyterhub-idle-culler's README (the role and service below).
import os
import sys

c = get_config()  # noqa: F821 (defined by JupyterHub when it loads this file)

# The environment that has the course installed (binder/requirements.txt's pins): the python
# running the hub, unless MARGINLOOPS_ENV names another one (e.g. /opt/marginloops/.venv).
COURSE_ENV = os.environ.get("MARGINLOOPS_ENV", sys.prefix)
STATE = os.environ.get("MARGINLOOPS_HUB_STATE", "/srv/jupyterhub")

c.JupyterHub.bind_url = os.environ.get("MARGINLOOPS_HUB_URL", "http://:8000")
c.JupyterHub.db_url = f"sqlite:///{STATE}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{STATE}/jupyterhub_cookie_secret"

# Students sign in with their account on this server; only members of the group may.
c.JupyterHub.authenticator_class = "pam"
c.LocalAuthenticator.allowed_groups = {os.environ.get("MARGINLOOPS_GROUP", "students")}
c.Authenticator.admin_users = set(filter(None, os.environ.get("MARGINLOOPS_ADMINS", "").split(",")))

# Each student's server: a local process, as that user, in their home folder.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [f"{COURSE_ENV}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
# A whole class starting at once: with the defaults (http 30 s, start 60 s) all 30 servers
# failed on a 2-core machine; with 120 s none failed, the slowest reported ready 136 s after its
# student asked (the class arriving within a minute; deploy/README.md, "Sizing").
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# Each student's kernels fork from a process of their server that imported IPython, ipykernel,
# numpy and pandas when the server started (marginloops.kernelfork, a server extension): a
# kernel then costs 0.3 CPU-s to start and import the lesson's libraries instead of 0.8, which
# is most of what a class opening its links at once waits for (deploy/README.md, "Sizing").
# Any kernel it cannot fork starts the usual way. Remove the line to start kernels as usual.
c.Spawner.args = ["--ServerApp.jpserver_extensions=marginloops.kernelfork=True"]
# Told to the server (MEM_LIMIT) and shown by jupyter-resource-usage; LocalProcessSpawner does
# not enforce it (TLJH's systemd spawner and Kubernetes do).
c.Spawner.mem_limit = "1G"
c.JupyterHub.concurrent_spawn_limit = 100
# An nbgitpuller link clicked while the student's server is stopped (the first click of the
# term, or after culling) starts it at once; with the default (0) JupyterHub shows a
# "server not running" page with a Launch button instead (JupyterHub.implicit_spawn_seconds).
# Students here have only their default server, so the docs' warning about starting "the wrong
# server" from a shared URL does not apply.
c.JupyterHub.implicit_spawn_seconds = 0.5

# Stop servers idle for an hour (their files stay): jupyterhub-idle-culler as a hub service,
# with only the scopes its README lists.
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "servers"],
    "services": ["idle-culler"],
}]
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600",
                "--cull-every=300"],
}]

# Start the class's servers before the lesson (`python -m marginloops start-servers --hub ...
# --group students`, by hand or from cron; deploy/README.md, "Before the class"): a service
# with only the scopes that command needs. Its token is the file below, created once by the
# admin (`openssl rand -hex 32 > /srv/jupyterhub/class-starter-token && chmod 600 ...`) and
# given to the command as JUPYTERHUB_API_TOKEN; without the file there is no such service.
STARTER_TOKEN = os.path.join(STATE, "class-starter-token")
if os.path.isfile(STARTER_TOKEN):
    with open(STARTER_TOKEN, encoding="utf-8") as token_file:
        c.JupyterHub.services.append({"name": "class-starter", "api_token": token_file.read().strip()})
    c.JupyterHub.load_roles.append({
        "name": "class-starter",
        "scopes": ["list:users", "read:users", "read:groups", "servers"],
        "services": ["class-starter"],
    })
