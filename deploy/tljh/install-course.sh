#!/usr/bin/env bash
# Install the marginloops course into The Littlest JupyterHub's user environment, under the same
# pins mybinder.org uses (binder/requirements.txt), and set the hub up for a class.
# Run as root on the TLJH server, from a clone of the course repository:
#     sudo bash deploy/tljh/install-course.sh
# Sources: TLJH docs, "Install conda, pip or apt packages" (the user environment is the conda
# environment in /opt/tljh/user, installed into with `sudo -E pip`), "Configuring TLJH with
# tljh-config" (limits.memory, limits.cpu, user_environment.default_app, services.cull.*),
# https://tljh.jupyter.org/en/latest/.
set -euo pipefail
cd "$(dirname "$0")/../.."
USER_PY=${TLJH_USER_PYTHON:-/opt/tljh/user/bin/python}
# Figures from deploy/README.md ("Sizing", benchmarks/bench_hub.py's measurements): a student
# uses about 350 MiB RSS with a lesson open; 1G leaves room for a second lesson's kernel.
MEMORY_LIMIT=${MEMORY_LIMIT:-1G}
CPU_LIMIT=${CPU_LIMIT:-1}
CULL_TIMEOUT=${CULL_TIMEOUT:-3600}

echo "--- installing the course environment into $USER_PY under binder/requirements.txt's pins"
# The pins as constraints (its last line, ".", is the repository itself: installed below).
grep -v '^\.$' binder/requirements.txt > /tmp/marginloops-constraints.txt
"$USER_PY" -m pip install -q -c /tmp/marginloops-constraints.txt -r deploy/tljh/requirements.txt
"$USER_PY" -m pip install -q -c /tmp/marginloops-constraints.txt .

echo "--- hub settings"
tljh-config set user_environment.default_app jupyterlab
tljh-config set limits.memory "$MEMORY_LIMIT"
tljh-config set limits.cpu "$CPU_LIMIT"
tljh-config set services.cull.enabled true
tljh-config set services.cull.timeout "$CULL_TIMEOUT"
tljh-config set services.cull.every 300
# An nbgitpuller link clicked while the student's server is stopped starts it at once (with
# JupyterHub's default the student sees "server not running" and a Launch button). TLJH loads
# every file of /opt/tljh/config/jupyterhub_config.d/ (tljh/jupyterhub_config.py).
# Each student's kernels fork from a process of their server that imported IPython, ipykernel,
# numpy and pandas when the server started (marginloops.kernelfork; deploy/README.md, "Sizing").
mkdir -p /opt/tljh/config/jupyterhub_config.d
cat > /opt/tljh/config/jupyterhub_config.d/marginloops.py <<'CONFIG'
c.JupyterHub.implicit_spawn_seconds = 0.5
c.Spawner.args.append("--ServerApp.jpserver_extensions=marginloops.kernelfork=True")
CONFIG
tljh-config reload hub
echo "--- done: print your class's links with"
echo "    $USER_PY -m marginloops links --hub https://<this server> --repo <the course's git URL>"
