"""A real JupyterHub on 127.0.0.1 and a class of simulated students, for tests and benchmarks.

:func:`run_class` starts JupyterHub (the ``jupyterhub`` package, with ``configurable-http-proxy``
from npm) from ``deploy/jupyterhub_config.py`` with only what a machine-local test needs changed
(ports on 127.0.0.1, a shared-password login, SimpleLocalProcessSpawner instead of system
accounts, ``--allow-root`` when run as root), then, all at once:

- **API students**: each one's server is started through the hub's REST API, lesson 03 is
  uploaded through the contents API, a kernel is started, the lesson's code cells are run over
  the kernel websocket, and the lesson's explorer (``playground``) is stepped ``steps`` times,
  with a pause of ``pause`` seconds between Steps (a class's pace), each Step timed inside the
  kernel and as a round trip, and the price read back before and after;
- **browser students**: headless Chromium signs in at ``/hub/login`` and follows the lesson's
  nbgitpuller link (built by :mod:`marginloops.links` for a ``file://`` clone of this
  checkout): the hub starts the server, nbgitpuller clones the course into the student's home
  and opens lesson 03 in JupyterLab; the page runs all cells and presses Step in the real page,
  timing click to redraw (a MutationObserver on the explorer's lines).

It reports time to a ready server, time to a built (or drawn) explorer, p50/p95/max of a Step
inside the kernel and round trip and of click to redraw, memory per student (RSS and PSS of the
student's server and kernel processes, from /proc), and every failure. It is bounded (a whole
run deadline, a timeout on every request and message, at most :data:`MAX_STUDENTS`) and, even
on failure, stops every process it started: each carries a marker in its environment
(``MARGINLOOPS_HUBTEST=<run id>``), and whatever is left is killed by process group.

Facts it relies on (seen on these machines): ../shared/HUB-TESTING.md.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
import websocket

from marginloops.hubstart import READY, HubAPI, start_servers

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "03-the-loop-round-by-round.ipynb"
DEPLOY_CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
#: Where .ci/run installs the proxy: ``npm install --prefix $CACHE/chp configurable-http-proxy``.
PROXY_CACHE = Path(os.environ.get("MARGINLOOPS_HUB_CACHE", "/tmp/hubcache"))
PASSWORD = "student-pass"  # SharedPasswordAuthenticator wants at least 8 characters
MARKER = "MARGINLOOPS_HUBTEST"
MAX_STUDENTS = 60
#: The explorer lesson 03 builds in its first cell and shows in Part 4.
EXPLORER = "playground"
#: The folder nbgitpuller clones the course into (the last part of the repository's URL).
COURSE_FOLDER = "marginloops"
#: Where the hub serves the shared Voilà service (:class:`Hub` with ``voila_pool``).
VOILA_SERVICE_PREFIX = "/services/voila"
STEP_CODE = (
    "import time as _hub_t\n"
    f"_hub_h = {EXPLORER}.cascade.history\n"
    f"_hub_p0 = _hub_h[-1].price_after if _hub_h else {EXPLORER}.cascade.start_price\n"
    f"_hub_t0 = _hub_t.perf_counter()\n{EXPLORER}.step()\n"
    "_hub_dt = _hub_t.perf_counter() - _hub_t0\n"
    f"_hub_p1 = {EXPLORER}.cascade.history[-1].price_after"
)
STEP_EXPRESSIONS = {"ms": "_hub_dt * 1000", "p0": "_hub_p0", "p1": "_hub_p1",
                    "ended": f"{EXPLORER}.ended"}


def proxy_command(cache: Path = PROXY_CACHE) -> Path | None:
    """The npm-installed configurable-http-proxy in ``cache``, or None if it is not there."""
    path = cache / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
    return path if path.exists() else None


def jupyterhub_command() -> Path | None:
    """``jupyterhub`` of the running environment, or None if it is not installed."""
    path = Path(sys.prefix) / "bin" / "jupyterhub"
    return path if path.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(values) -> dict:
    """p50, p95 and max of ``values`` (nearest rank), and how many; empty: all None."""
    values = sorted(values)
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}

    def rank(q):
        return values[max(0, min(len(values) - 1, -(-len(values) * q // 100) - 1))]

    return {"n": len(values), "p50": rank(50), "p95": rank(95), "max": values[-1]}


# ------------------------------------------------------------------ processes and memory
def marked_processes(run_id: str) -> list[int]:
    """The pids whose environment holds ``MARGINLOOPS_HUBTEST=<run_id>`` (zombies excluded)."""
    tag = f"{MARKER}={run_id}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if tag in environ.split(b"\0"):
            found.append(int(name))
    return found


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in KiB from /proc/<pid>/smaps_rollup; (0, 0) if it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def _is_fork_process(pid: int) -> bool:
    """Whether ``pid`` runs ``python -m marginloops.kernelfork``: a fork server, or a kernel
    forked from one (the arguments NUL-separated: the module itself, not a server's option)."""
    try:
        return b"-m\0marginloops.kernelfork\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _forked_kernel(pid: int) -> bool:
    """Whether ``pid`` is a kernel forked by marginloops.kernelfork: a fork process whose parent
    is one too (the fork server's own parent is the student's server). Not its environment:
    /proc shows the one a process was started with, the fork server's."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return _is_fork_process(pid) and _is_fork_process(parent)


def student_memory(run_id: str, user: str) -> dict:
    """RSS and PSS (MiB) of ``user``'s server, fork server and kernel processes, how many there
    are, and how many of them are forked kernels."""
    pids = [pid for pid in marked_processes(run_id)
            if _environ(pid).get("JUPYTERHUB_USER") == user]
    sizes = [memory_kib(pid) for pid in pids]
    return {"processes": len(pids), "rss_mib": sum(s[0] for s in sizes) / 1024,
            "pss_mib": sum(s[1] for s in sizes) / 1024,
            "forked_kernels": sum(_forked_kernel(pid) for pid in pids)}


def kill_marked(run_id: str, grace: float = 10.0) -> list[int]:
    """SIGTERM every marked process's group (never our own), then SIGKILL what is left after
    ``grace`` seconds; return the pids still alive after that (should be none)."""
    own_group = os.getpgid(0)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in marked_processes(run_id):
            try:
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, sig)
                else:
                    os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while marked_processes(run_id) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not marked_processes(run_id):
            break
    return marked_processes(run_id)


# ------------------------------------------------------------------------------ the hub
class Hub:
    """JupyterHub from ``deploy/jupyterhub_config.py`` with a test's overrides, in ``scratch``.

    ``with Hub(scratch) as hub:`` starts it and waits until its API answers; leaving the block
    stops every user's server, the hub and the proxy, and kills anything marked that is left.
    """

    def __init__(self, scratch: Path, *, start_timeout: float = 60.0, browser_app: bool = True,
                 voila_pool: int | None = None, voila_lesson: Path | None = None,
                 server_args: tuple[str, ...] = (), hub_config: tuple[str, ...] = (),
                 fork_kernels: bool = True, browser_nice: int = 0):
        """``voila_pool``: also run Voilà (standalone, serving ``voila_lesson``) as a hub
        service at /services/voila/ with that many preheated kernels (0: none); ``server_args``:
        more arguments for every student's server; ``hub_config``: more config lines;
        ``fork_kernels``: keep the deployed kernel fork server (marginloops.kernelfork), or
        start kernels the usual way to compare; ``browser_nice``: the browser students'
        Chromium at this niceness (0: as the hub's own processes; see :func:`chromium_for`)."""
        self.scratch = Path(scratch)
        self.run_id = secrets.token_hex(6)
        self.token = secrets.token_hex(24)
        self.port, self.hub_port, self.proxy_api_port = (_free_port() for _ in range(3))
        self.url = f"http://127.0.0.1:{self.port}"
        self.homes = self.scratch / "homes"
        self.log_path = self.scratch / "jupyterhub.log"
        self.start_timeout = start_timeout
        self.browser_app = browser_app
        self.process: subprocess.Popen | None = None
        self.leftover: list[int] = []
        self.voila_pool, self.voila_lesson = voila_pool, voila_lesson
        self.voila_port = _free_port()
        self.server_args, self.hub_config = tuple(server_args), tuple(hub_config)
        self.fork_kernels = bool(fork_kernels)
        if not 0 <= browser_nice <= 19:
            raise ValueError(f"browser_nice must be between 0 and 19; got {browser_nice}")
        self.browser_nice = int(browser_nice)
        self.pool_filled_s: float | None = None
        #: every student's server was started before the class (run_class's prestart)
        self.prestarted = False
        if voila_pool is not None and (voila_lesson is None or voila_pool < 0):
            raise ValueError(f"voila_pool needs a voila_lesson and must be at least 0; got "
                             f"{voila_pool} and {voila_lesson}")

    def voila_service(self) -> dict:
        """The Voilà service: standalone Voilà serving the one lesson behind the hub's proxy,
        with ``voila_pool`` preheated kernels (Voilà's "Preheated kernels": a pool of kernels
        that have each run the notebook, and its rendered page kept, before anyone asks;
        refilled ``fill_delay`` seconds after one is taken, here after the class's run). Voilà
        0.5 preheats only as a standalone app: as a server extension in a student's server its
        handler reads no pool (voila/handler.py: "For server extension case", pool size 0)."""
        command = [sys.executable, "-m", "voila", self.voila_lesson.name, "--no-browser",
                   f"--port={self.voila_port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0",
                   f"--Voila.base_url={VOILA_SERVICE_PREFIX}/", "--show_tracebacks=True"]
        if self.voila_pool:
            command += ["--VoilaConfiguration.preheat_kernel=True",
                        f"--VoilaConfiguration.default_pool_size={self.voila_pool}",
                        "--VoilaKernelManager.fill_delay=900"]
        return {"name": "voila", "url": f"http://127.0.0.1:{self.voila_port}",
                "command": command, "cwd": str(self.voila_lesson.parent),
                "environment": {MARKER: self.run_id}}

    def config_text(self) -> str:
        proxy, state = proxy_command(), self.scratch
        if proxy is None:
            raise RuntimeError(f"configurable-http-proxy is not installed in {PROXY_CACHE}/chp "
                               f"(npm install --prefix {PROXY_CACHE}/chp configurable-http-proxy)")
        args = (["--allow-root"] if os.geteuid() == 0 else []) + list(self.server_args)
        if self.browser_app:  # lets the browser students read kernel state and run all cells
            args.append("--LabApp.expose_app_in_browser=True")
        return "\n".join([
            "c = get_config()  # noqa",
            f"load_subconfig({str(DEPLOY_CONFIG)!r})  # noqa: the deployed configuration",
            "# machine-local overrides: ports, state, login, no system accounts",
            f"c.JupyterHub.bind_url = 'http://127.0.0.1:{self.port}'",
            "c.JupyterHub.hub_ip = '127.0.0.1'",
            f"c.JupyterHub.hub_port = {self.hub_port}",
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.proxy_api_port}'",
            f"c.ConfigurableHTTPProxy.command = [{str(proxy)!r}]",
            f"c.ConfigurableHTTPProxy.pid_file = {str(state / 'proxy.pid')!r}",
            f"c.JupyterHub.db_url = 'sqlite:///{state / 'jupyterhub.sqlite'}'",
            f"c.JupyterHub.cookie_secret_file = {str(state / 'jupyterhub_cookie_secret')!r}",
            f"c.JupyterHub.pid_file = {str(state / 'jupyterhub.pid')!r}",
            "c.JupyterHub.authenticator_class = 'shared-password'",
            f"c.SharedPasswordAuthenticator.user_password = {PASSWORD!r}",
            "c.Authenticator.allow_all = True",
            "c.JupyterHub.spawner_class = 'simple'",
            f"c.SimpleLocalProcessSpawner.home_dir_template = {str(self.homes) + '/{username}'!r}",
            # the deployed server arguments (the kernel fork server, unless fork_kernels is
            # False) and ours
            "deployed = c.Spawner.args if isinstance(c.Spawner.args, list) else []",
            f"c.Spawner.args = [a for a in deployed if {self.fork_kernels!r} "
            f"or 'marginloops.kernelfork' not in a] + {args!r}",
            f"c.Spawner.environment = {{{MARKER!r}: {self.run_id!r}}}",
            f"c.JupyterHub.services = [{{'name': 'loadtest', 'api_token': {self.token!r}}}]",
            "c.JupyterHub.load_roles = [{'name': 'admin', 'services': ['loadtest']}]",
            *([f"c.JupyterHub.services.append({self.voila_service()!r})"]
              if self.voila_pool is not None else []),
            *self.hub_config,
            "",
        ])

    def start(self) -> Hub:
        command = jupyterhub_command()
        if command is None:
            raise RuntimeError("jupyterhub is not installed in this environment")
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.homes.mkdir(exist_ok=True)
        config = self.scratch / "jupyterhub_config.py"
        config.write_text(self.config_text())
        env = dict(os.environ, MARGINLOOPS_ENV=sys.prefix, **{MARKER: self.run_id})
        env["PATH"] = f"{Path(sys.prefix) / 'bin'}:{env.get('PATH', '')}"
        launched = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(command), "-f", str(config)], cwd=self.scratch, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.process.returncode}):\n"
                                   + self.log_tail())
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("jupyterhub did not answer in time:\n" + self.log_tail())
        if self.voila_pool:
            self._wait_for_pool(began=launched)
        return self

    def _wait_for_pool(self, began: float) -> None:
        """Wait until Voilà logs "Kernel pool of <lesson> is filled" (the service's output goes
        to the hub's log); ``pool_filled_s``: how long after launching the hub it was seen.
        JupyterHub itself waits for a managed service to answer at its URL before it serves,
        and that request renders the lesson once: it takes one preheated kernel."""
        deadline = began + max(self.start_timeout, 20.0 * self.voila_pool)
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if "Kernel pool of" in text and "is filled with" in text:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("Voilà's kernel pool was not filled in time:\n"
                               + self.log_tail())
        # "filled" means the kernels are started; each then runs the notebook to render its
        # page: wait until the service and its kernels stop using the CPU (under 0.1 s of CPU
        # in 2 s), as a teacher would start the service well before the class
        used = None
        while time.monotonic() < deadline:
            now = cpu_seconds_by_role(self).get("voila service", 0.0) + sum(
                _cpu_seconds(pid) for pid in marked_processes(self.run_id)
                if _environ(pid).get("JUPYTERHUB_SERVICE_NAME") == "voila"
                and _role(pid, self) == "kernels")
            if used is not None and now - used < 0.1:
                self.pool_filled_s = time.monotonic() - began
                return
            used = now
            time.sleep(2.0)
        raise RuntimeError("Voilà's preheated kernels did not finish rendering in time")

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def session(self) -> requests.Session:
        """A requests session that talks to the hub (and the users' servers) as the service."""
        session = requests.Session()
        session.headers["Authorization"] = f"token {self.token}"
        return session

    def stop(self) -> list[int]:
        """Stop the users' servers, the hub and the proxy; return pids left (should be [])."""
        if self.process is not None and self.process.poll() is None:
            # JupyterHub.cleanup_servers and cleanup_proxy (both True by default): on SIGTERM
            # the hub stops every user's server and the proxy it started
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.leftover = kill_marked(self.run_id)
        return self.leftover

    def __enter__(self) -> Hub:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


# -------------------------------------------------------------------------- the kernel
#: The kernel websocket subprotocol JupyterLab 4's and Voilà's pages ask for
#: (``KernelMessage.supportedKernelWebSocketProtocols`` in @jupyterlab/services; the server side
#: is jupyter_server's ``services/kernels/connection/base.py``, ``serialize_msg_to_ws_v1``): the
#: server passes the kernel's frames through as they are, where the legacy JSON protocol (no
#: subprotocol) makes it decode and re-encode every message.
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    """A v1 frame: a little-endian uint64 count n of offsets, the n offsets, the channel's name,
    then the message's parts (header, parent header, metadata, content, buffers); the last
    offset is the frame's end."""
    name = channel.encode()
    offsets = [8 * (len(parts) + 3)]
    for chunk in (name, *parts):
        offsets.append(offsets[-1] + len(chunk))
    return b"".join([len(offsets).to_bytes(8, "little"),
                     *(o.to_bytes(8, "little") for o in offsets), name, *parts])


def decode_v1(frame: bytes) -> dict:
    """The message in a v1 frame (:func:`encode_v1`), buffers left out."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    parts = [frame[offsets[i]:offsets[i + 1]] for i in range(count - 1)]
    header, parent, metadata, content = (json.loads(part) for part in parts[1:5])
    return {"channel": parts[0].decode(), "header": header, "parent_header": parent,
            "metadata": metadata, "content": content, "msg_type": header.get("msg_type")}


class Kernel:
    """A kernel of ``user``'s server, driven over its websocket as JupyterLab drives it (the v1
    subprotocol; ``protocol=""``: the legacy JSON frames)."""

    def __init__(self, hub: Hub, api: requests.Session | None, user: str, timeout: float, *,
                 kernel_id: str | None = None, prefix: str | None = None,
                 protocol: str = V1_PROTOCOL):
        """Start a kernel on ``user``'s server, or (``kernel_id``) attach to a running one, e.g.
        the one a Voilà page runs in; ``prefix``: the server's path (default ``/user/<user>``)."""
        prefix = prefix if prefix is not None else f"/user/{user}"
        if kernel_id is None:
            response = api.post(f"{hub.url}{prefix}/api/kernels", json={"name": "python3"},
                                timeout=timeout)
            response.raise_for_status()
            kernel_id = response.json()["id"]
        self.id = kernel_id
        self.user, self.session_id = user, uuid.uuid4().hex
        ws_url = (hub.url.replace("http", "ws", 1)
                  + f"{prefix}/api/kernels/{self.id}/channels?session_id={self.session_id}")
        self.ws = websocket.create_connection(
            ws_url, header=[f"Authorization: token {hub.token}"], timeout=timeout,
            subprotocols=[protocol] if protocol else None)
        self.protocol = protocol
        if protocol and self.ws.getsubprotocol() != protocol:
            self.ws.close()
            raise RuntimeError(f"the server did not accept the {protocol} subprotocol")

    @staticmethod
    def decode(frame) -> dict:
        """A legacy-protocol message from a text frame, or from a binary one (a big-endian
        uint32 count n, n uint32 offsets, the JSON between the first two offsets, then
        buffers)."""
        if isinstance(frame, str):
            return json.loads(frame)
        count = int.from_bytes(frame[:4], "big")
        offsets = [int.from_bytes(frame[4 + 4 * i:8 + 4 * i], "big") for i in range(count)]
        end = offsets[1] if count > 1 else len(frame)
        return json.loads(frame[offsets[0]:end].decode())

    def receive(self) -> dict:
        frame = self.ws.recv()
        return decode_v1(frame) if self.protocol else self.decode(frame)

    def send(self, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        """Send a shell message; return its msg_id."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": self.user,
                  "session": self.session_id, "version": "5.3",
                  "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if self.protocol:
            self.ws.send_binary(encode_v1("shell", [
                json.dumps(part).encode() for part in (header, {}, metadata or {}, content)]))
        else:
            self.ws.send(json.dumps({
                "header": header, "parent_header": {}, "metadata": metadata or {},
                "channel": "shell", "buffers": [], "content": content}))
        return msg_id

    def until_idle(self, msg_id: str, seen=None) -> float:
        """Read messages until the kernel's idle status for ``msg_id``, passing each of its
        iopub messages to ``seen``; return the seconds that took."""
        start = time.perf_counter()
        while True:
            msg = self.receive()
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg.get("msg_type") or msg["header"]["msg_type"]
            if kind == "status" and msg["content"].get("execution_state") == "idle":
                return time.perf_counter() - start
            if seen is not None and msg.get("channel") == "iopub":
                seen(kind, msg["content"])

    def execute(self, code: str, expressions: dict | None = None) -> tuple[dict, float]:
        """Run ``code``; return (the execute_reply's content, seconds from sending the request to
        the kernel's idle status). RuntimeError with the error if the code raised."""
        start = time.perf_counter()
        msg_id = self.send("execute_request", {
            "code": code, "silent": False, "store_history": False,
            "user_expressions": expressions or {}, "allow_stdin": False, "stop_on_error": True})
        reply = idle = None
        while reply is None or idle is None:
            msg = self.receive()
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg.get("msg_type") or msg["header"]["msg_type"]
            if msg.get("channel") == "shell" and kind == "execute_reply":
                reply = msg["content"]
            elif kind == "status" and msg["content"].get("execution_state") == "idle":
                idle = time.perf_counter() - start
        if reply.get("status") != "ok":
            raise RuntimeError(f"{reply.get('ename')}: {reply.get('evalue')}")
        return reply, idle

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # closing a broken socket must not hide the real failure
            pass


def expression(reply: dict, name: str):
    """A user expression's value from an execute_reply (its text/plain, read as Python)."""
    value = reply["user_expressions"][name]
    if value.get("status") != "ok":
        raise RuntimeError(f"user expression {name}: {value.get('ename')}: {value.get('evalue')}")
    text = value["data"]["text/plain"]
    return {"True": True, "False": False}.get(text) if text in ("True", "False") else float(text)


# ------------------------------------------------------------------------------ students
@dataclass
class Student:
    """One student's figures (seconds from the moment the student arrives) and failures."""

    name: str
    browser: bool = False
    arrive_s: float = 0.0
    ready_s: float | None = None
    kernel_s: float | None = None  # API students: lesson uploaded, kernel started and connected
    cells_s: float | None = None  # API students: the lesson's code cells run
    explorer_s: float | None = None
    step_kernel_ms: list[float] = field(default_factory=list)
    step_round_trip_ms: list[float] = field(default_factory=list)
    redraw_ms: list[float] = field(default_factory=list)
    price_changed: list[bool] = field(default_factory=list)
    #: when each Step (API) or click (Voilà API) was sent, seconds from the class's start
    step_at: list[float] = field(default_factory=list)
    memory: dict = field(default_factory=dict)
    #: browser students: the page nbgitpuller opened, and whether it cloned the lesson home
    page_path: str | None = None
    pulled: bool = False
    #: Voilà students: the render's first byte and its last (seconds from sending the GET),
    #: Step clicks sent over the widget comm (ms, click to the kernel's idle), the explorer's
    #: round counter after each click, and the widget messages (updates) each click caused
    voila: bool = False
    first_byte_s: float | None = None
    page_s: float | None = None
    click_ms: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    click_updates: list[int] = field(default_factory=list)
    failure: str | None = None


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _start_server(hub: Hub, user: str, timeout: float, deadline: float) -> None:
    """Start ``user``'s server as the hub's REST API does for a student who arrives, and wait
    until it is ready (marginloops.hubstart, the same calls a teacher's start-servers makes)."""
    wait = min(3600.0, max(1.0, deadline - time.monotonic()))
    outcome = start_servers(HubAPI(hub.url, hub.token, timeout), [user], timeout=wait,
                            poll=0.5)[user]
    if outcome.startswith("failed: not ready"):
        raise TimeoutError(f"{user}'s server was not ready in time")
    if outcome != READY:
        raise RuntimeError(f"starting {user}'s server: {outcome}")


def api_student(hub: Hub, student: Student, *, steps: int, pause: tuple[float, float],
                timeout: float, deadline: float, start: float,
                protocol: str = V1_PROTOCOL) -> None:
    """One student through the REST API and a kernel (see the module docstring)."""
    user, kernel = student.name, None
    try:
        time.sleep(max(0.0, start + student.arrive_s - time.monotonic()))
        arrived = time.monotonic()
        with hub.session() as api:
            if not hub.prestarted:
                _start_server(hub, user, timeout, deadline)
            student.ready_s = time.monotonic() - arrived
            contents = f"{hub.url}/user/{user}/api/contents/lessons"
            api.put(contents, json={"type": "directory"}, timeout=timeout).raise_for_status()
            notebook = json.loads(LESSON.read_text(encoding="utf-8"))
            api.put(f"{contents}/{LESSON.name}", timeout=timeout,
                    json={"type": "notebook", "format": "json", "content": notebook}
                    ).raise_for_status()
            kernel = Kernel(hub, api, user, timeout, protocol=protocol)
            kernel.execute("pass")  # the kernel answers
            student.kernel_s = time.monotonic() - arrived - student.ready_s
            began_cells = time.monotonic()
            for code in _code_cells(LESSON):
                kernel.execute(code)
            student.cells_s = time.monotonic() - began_cells
            student.explorer_s = time.monotonic() - arrived
            ended = False
            for k in range(steps):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the run's deadline passed after {k} Steps")
                if ended:  # a Step after the run's end does nothing: Reset, as a student would
                    kernel.execute(f"{EXPLORER}.reset()")
                student.step_at.append(time.monotonic() - start)
                reply, round_trip = kernel.execute(STEP_CODE, STEP_EXPRESSIONS)
                ended = expression(reply, "ended")
                student.step_round_trip_ms.append(round_trip * 1000)
                student.step_kernel_ms.append(expression(reply, "ms"))
                student.price_changed.append(expression(reply, "p1") != expression(reply, "p0"))
                if pause[1] > 0 and k < steps - 1:
                    time.sleep(random.uniform(*pause))
            student.memory = student_memory(hub.run_id, user)
    except Exception as error:
        student.failure = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"
    finally:
        if kernel is not None:
            kernel.close()


# --------------------------------------------------------------------------- Voilà students
#: Where a Voilà render puts things (voila/templates/lab/index.html.j2 in Voilà 0.5): the page
#: config with the kernel's id, and each cell output as a JSON script.
_PAGE_CONFIG = re.compile(
    r'<script id="jupyter-config-data" type="application/json">\s*(.*?)\s*</script>', re.S)
_CELL_OUTPUT = re.compile(
    r'<script type="application/vnd.voila.cell-output\+json">\s*(.*?)\s*</script>', re.S)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_ROUND = re.compile(r"Round\s+(\d+)")


def parse_voila_page(html: str) -> dict:
    """The kernel id, the widget views (model ids, in page order) and the errors of a Voilà
    page (an error output, or stderr with a traceback, as Voilà shows a cell's exception)."""
    config = _PAGE_CONFIG.search(html)
    outputs = [json.loads(m) for m in _CELL_OUTPUT.findall(html)]
    views = [o["data"][_WIDGET_VIEW]["model_id"] for o in outputs
             if _WIDGET_VIEW in o.get("data", {})]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs
              if o.get("output_type") == "error"]
    errors += ["".join(o.get("text", "")) for o in outputs
               if o.get("name") == "stderr" and "Traceback" in "".join(o.get("text", ""))]
    return {"kernel_id": json.loads(config.group(1))["kernelId"] if config else None,
            "views": views, "errors": errors, "finished": "window.voila_finish()" in html}


def _children(state: dict) -> list[str]:
    return [c.removeprefix("IPY_MODEL_") for c in state.get("children", ())
            if isinstance(c, str)]


def find_controls(states: dict, views: list[str]) -> dict | None:
    """In the kernel's widget states (model id -> {model_name, state}), the Step and Reset
    buttons and the round counter of the last widget view that holds a Step button (as
    labtools.explorers(page).last: lesson 03's playground); None if no view holds one."""
    for root in reversed(views):
        found, todo, seen = {}, [root], set()
        while todo:
            model = todo.pop()
            if model in seen or model not in states:
                continue
            seen.add(model)
            entry = states[model]
            state = entry.get("state", {})
            if entry.get("model_name") == "ButtonModel" and state.get("description") in (
                    "Step", "Reset"):
                found.setdefault(state["description"].lower(), model)
            elif (entry.get("model_name") == "HTMLModel"
                  and str(state.get("value", "")).startswith("<b>Round")):
                found.setdefault("counter", model)
            todo.extend(reversed(_children(state)))
        if "step" in found:
            return found
    return None


class WidgetPage:
    """A Voilà page's kernel seen as the page's widgets see it: each widget's state asked over
    its comm, button clicks sent as the browser sends them (a ``custom`` comm message
    ``{"event": "click"}``), and each model's state kept up to date from the kernel's
    ``update`` messages (the widget messaging protocol of ipywidgets 8)."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.states: dict = {}

    def _seen(self, kind: str, content: dict) -> None:
        data = content.get("data", {})
        if kind == "comm_msg" and data.get("method") == "update_states":
            self.states.update(data["states"])
        elif kind == "comm_msg" and data.get("method") in ("update", "echo_update"):
            self.updates += 1
            entry = self.states.setdefault(content["comm_id"], {"state": {}})
            entry["state"].update(data.get("state", {}))
            if "_model_name" in entry["state"]:
                entry["model_name"] = entry["state"]["_model_name"]

    def fetch_states(self, roots: list[str]) -> dict:
        """The states of the widgets under ``roots`` (each widget's comm asked for its state,
        ``request_state``, as ipywidgets' manager does when it cannot use the control comm;
        its ``request_states`` left this lesson's kernel busy and silent)."""
        self.updates = 0
        todo, asked = list(roots), set()
        while todo:
            model = todo.pop()
            if model in asked:
                continue
            asked.add(model)
            self.kernel.until_idle(self.kernel.send("comm_msg", {
                "comm_id": model, "data": {"method": "request_state"}}), self._seen)
            todo.extend(_children(self.states.get(model, {}).get("state", {})))
        return self.states

    def click(self, model_id: str) -> tuple[float, int]:
        """Click a button; return (seconds from the click to the kernel's idle, how many widget
        updates it caused)."""
        self.updates = 0
        seconds = self.kernel.until_idle(self.kernel.send("comm_msg", {
            "comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}}),
            self._seen)
        return seconds, self.updates

    def value(self, model_id: str, name: str):
        return self.states.get(model_id, {}).get("state", {}).get(name)

    def round(self, counter: str) -> int:
        """The explorer's round counter: "Round k" (0: the shock), -1 for "Round –" (before
        the shock; RunController._update_counter writes it)."""
        found = _ROUND.search(str(self.value(counter, "value") or ""))
        return int(found.group(1)) if found else -1


def voila_path(prefix: str) -> str:
    """The Voilà render of lesson 03 under a server's ``prefix`` (where nbgitpuller's clone of
    the course puts it), or, for the Voilà service, its root (it serves that one notebook)."""
    if prefix == VOILA_SERVICE_PREFIX:
        return f"{prefix}/"
    return f"{prefix}/voila/render/{COURSE_FOLDER}/lessons/{LESSON.name}"


def voila_student(hub: Hub, student: Student, *, steps: int, pause: tuple[float, float],
                  timeout: float, deadline: float, start: float,
                  protocol: str = V1_PROTOCOL) -> None:
    """One student opening lesson 03 in Voilà without a browser: their server is started (unless
    the hub runs the shared Voilà service), the lesson put where nbgitpuller's clone puts it,
    the render fetched (Voilà executes the notebook and streams the page cell by cell; timed
    to the first byte and to the last), then the explorer's Step pressed over the widget comm."""
    user, kernel = student.name, None
    try:
        time.sleep(max(0.0, start + student.arrive_s - time.monotonic()))
        arrived = time.monotonic()
        with hub.session() as api:
            if hub.voila_pool is None:
                prefix = f"/user/{user}"
                if not hub.prestarted:
                    _start_server(hub, user, timeout, deadline)
                student.ready_s = time.monotonic() - arrived
                contents = f"{hub.url}{prefix}/api/contents"
                for folder in (COURSE_FOLDER, f"{COURSE_FOLDER}/lessons"):
                    api.put(f"{contents}/{folder}", json={"type": "directory"},
                            timeout=timeout).raise_for_status()
                notebook = json.loads(LESSON.read_text(encoding="utf-8"))
                api.put(f"{contents}/{COURSE_FOLDER}/lessons/{LESSON.name}", timeout=timeout,
                        json={"type": "notebook", "format": "json", "content": notebook}
                        ).raise_for_status()
            else:
                prefix = VOILA_SERVICE_PREFIX
            sent = time.monotonic()
            chunks = []
            with api.get(f"{hub.url}{voila_path(prefix)}", stream=True,
                         timeout=timeout) as response:
                response.raise_for_status()
                for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
                    if student.first_byte_s is None:
                        student.first_byte_s = time.monotonic() - sent
                    chunks.append(chunk)
            student.page_s = time.monotonic() - sent
            page = parse_voila_page("".join(chunks))
            if not page["finished"] or page["errors"] or not page["kernel_id"]:
                raise RuntimeError(f"the Voilà page: finished {page['finished']}, kernel "
                                   f"{page['kernel_id']}, errors {page['errors']}")
            kernel = Kernel(hub, None, user, timeout, kernel_id=page["kernel_id"], prefix=prefix,
                            protocol=protocol)
            widgets = WidgetPage(kernel)
            controls = find_controls(widgets.fetch_states(page["views"]), page["views"])
            if controls is None or "counter" not in controls:
                raise RuntimeError(f"no explorer with a Step button and a round counter among "
                                   f"{len(page['views'])} widget views")
            student.explorer_s = time.monotonic() - arrived
            for k in range(steps):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the run's deadline passed after {k} Steps")
                if widgets.value(controls["step"], "disabled"):  # the run ended: Reset
                    widgets.click(controls["reset"])
                before = widgets.round(controls["counter"])
                student.step_at.append(time.monotonic() - start)
                seconds, updates = widgets.click(controls["step"])
                student.click_ms.append(seconds * 1000)
                student.click_updates.append(updates)
                student.rounds.append(widgets.round(controls["counter"]))
                student.price_changed.append(student.rounds[-1] == before + 1)
                if pause[1] > 0 and k < steps - 1:
                    time.sleep(random.uniform(*pause))
            if hub.voila_pool is None:
                student.memory = student_memory(hub.run_id, user)
    except Exception as error:
        student.failure = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"
    finally:
        if kernel is not None:
            kernel.close()


#: Click the explorer's Step (or Reset when the run has ended) and resolve with the time from
#: the click to the first change of a line of its charts.
_CLICK_JS = """
(root, [label, timeoutMs]) => new Promise(resolve => {
  const lines = () => Array.from(root.querySelectorAll(
    '.bqplot svg.svg-figure g.curve path.line')).map(p => p.getAttribute('d')).join('|');
  const button = Array.from(root.querySelectorAll('button.widget-button'))
    .find(b => b.textContent.trim() === label);
  if (!button) { resolve({error: `no ${label} button`}); return; }
  if (button.disabled) { resolve({disabled: true}); return; }
  const before = lines();
  let start = 0;
  const observer = new MutationObserver(() => {
    if (lines() !== before) { observer.disconnect(); resolve({ms: performance.now() - start}); }
  });
  observer.observe(root, {subtree: true, childList: true, attributes: true,
                          attributeFilter: ['d']});
  setTimeout(() => { observer.disconnect(); resolve({error: 'no redraw'}); }, timeoutMs);
  start = performance.now();
  button.click();
})
"""


def chromium_for(hub: Hub, chromium: Path) -> Path:
    """The Chromium a browser student runs: ``chromium`` itself, or with ``hub.browser_nice``
    a wrapper starting it at that niceness (its renderers inherit it). In a real class the
    browsers run on the students' laptops; here they share the hub's cores, and niced they
    take what the hub leaves instead of competing with it for the same cores."""
    if not hub.browser_nice:
        return chromium
    wrapper = hub.scratch / f"chromium-nice-{hub.browser_nice}"
    if not wrapper.exists():
        part = wrapper.with_name(f"{wrapper.name}.{threading.get_ident()}")
        part.write_text(f'#!/bin/sh\nexec nice -n {hub.browser_nice} {chromium} "$@"\n')
        part.chmod(0o755)
        part.replace(wrapper)
    return wrapper


def browser_student(hub: Hub, student: Student, link: str, *, steps: int,
                    pause: tuple[float, float], timeout: float, deadline: float,
                    start: float, shots: Path | None = None) -> None:
    """One student in headless Chromium: /hub/login, then the nbgitpuller ``link``."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        import labtools
        from playwright.sync_api import sync_playwright
    finally:
        sys.path.remove(str(ROOT / "tests" / "browser"))
    ms = timeout * 1000
    try:
        time.sleep(max(0.0, start + student.arrive_s - time.monotonic()))
        arrived = time.monotonic()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium_for(hub, labtools.CHROMIUM)),
                args=labtools.CHROMIUM_ARGS,
                env=dict(os.environ, **{MARKER: hub.run_id}))
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.route(labtools.NON_LOCAL_URL, lambda route: route.abort())
                parts = urlsplit(link)
                page.goto(f"{hub.url}/hub/login?next={quote(parts.path + '?' + parts.query)}",
                          timeout=ms)
                page.fill("#username_input", student.name)
                page.fill("#password_input", PASSWORD)
                page.click("#login_submit")
                # spawn-pending, then nbgitpuller's page, then JupyterLab on the lesson
                page.wait_for_url(f"**/user/{student.name}/lab/tree/**", timeout=ms)
                student.ready_s = time.monotonic() - arrived
                student.page_path = urlsplit(page.url).path
                student.pulled = (hub.homes / student.name / "marginloops" / "lessons"
                                  / LESSON.name).is_file()
                labtools.run_all(page, f"{COURSE_FOLDER}/lessons/{LESSON.name}", ms)
                explorer = labtools.explorers(page).last
                explorer.scroll_into_view_if_needed(timeout=ms)
                student.explorer_s = time.monotonic() - arrived
                _press_steps(labtools, explorer, student, steps=steps, pause=pause,
                             timeout=timeout, deadline=deadline)
                student.memory = student_memory(hub.run_id, student.name)
                if shots is not None:
                    page.screenshot(path=str(Path(shots) / f"{student.name}.png"))
            finally:
                browser.close()
    except Exception as error:
        student.failure = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"


def _press_steps(labtools, explorer, student: Student, *, steps: int,
                 pause: tuple[float, float], timeout: float, deadline: float) -> None:
    """Press the explorer's Step ``steps`` times in the page (Reset first when the run has
    ended), timing click to redraw."""
    ms = timeout * 1000
    for k in range(steps):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run's deadline passed after {k} Steps")
        result = explorer.evaluate(_CLICK_JS, ["Step", ms])
        if result.get("disabled"):  # the run has ended: Reset, then Step
            explorer.evaluate(_CLICK_JS, ["Reset", ms])
            labtools.wait_until(
                lambda: labtools.widget_button(explorer, "Step").is_enabled(),
                bool, "Step enabled after Reset", timeout)
            result = explorer.evaluate(_CLICK_JS, ["Step", ms])
        if "ms" not in result:
            raise RuntimeError(f"Step {k + 1}: {result}")
        student.redraw_ms.append(result["ms"])
        if pause[1] > 0 and k < steps - 1:
            time.sleep(random.uniform(*pause))


#: Voilà has rendered every cell (labtools.open_voila's test).
_VOILA_DONE_JS = """
() => !document.getElementById('loading') && document.getElementById('rendered_cells')
  && !document.querySelector('script[type="application/vnd.voila.cell-output+json"]')
"""


def voila_browser_student(hub: Hub, student: Student, link: str, *, steps: int,
                          pause: tuple[float, float], timeout: float, deadline: float,
                          start: float, shots: Path | None = None) -> None:
    """One student in headless Chromium opening lesson 03 in Voilà: /hub/login, then the
    nbgitpuller ``link`` with ``app=voila`` (or, with the Voilà service, its page), then Step
    pressed in the page."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        import labtools
        from playwright.sync_api import sync_playwright
    finally:
        sys.path.remove(str(ROOT / "tests" / "browser"))
    ms = timeout * 1000
    try:
        time.sleep(max(0.0, start + student.arrive_s - time.monotonic()))
        arrived = time.monotonic()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium_for(hub, labtools.CHROMIUM)),
                args=labtools.CHROMIUM_ARGS,
                env=dict(os.environ, **{MARKER: hub.run_id}))
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.route(labtools.NON_LOCAL_URL, lambda route: route.abort())
                if hub.voila_pool is None:
                    parts = urlsplit(link)
                    page.goto(f"{hub.url}/hub/login?next="
                              f"{quote(parts.path + '?' + parts.query)}", timeout=ms)
                    page.fill("#username_input", student.name)
                    page.fill("#password_input", PASSWORD)
                    page.click("#login_submit")
                    # spawn-pending, then nbgitpuller's page, then Voilà rendering the lesson
                    # (its first bytes: the page streams while the notebook runs)
                    page.wait_for_url(f"**/user/{student.name}/voila/render/**", timeout=ms,
                                      wait_until="commit")
                    student.ready_s = time.monotonic() - arrived
                    student.page_path = urlsplit(page.url).path
                    student.pulled = (hub.homes / student.name / COURSE_FOLDER / "lessons"
                                      / LESSON.name).is_file()
                else:
                    page.goto(f"{hub.url}{voila_path(VOILA_SERVICE_PREFIX)}", timeout=ms,
                              wait_until="commit")
                # page_s: from the render's first bytes to every cell shown (Voilà's spinner
                # gone), as an API student's page_s runs from the GET to the last byte
                rendering = time.monotonic()
                page.wait_for_function(_VOILA_DONE_JS, timeout=ms)
                student.page_s = time.monotonic() - rendering
                labtools.wait_for_widgets(page, ms)
                explorer = labtools.explorers(page).last
                explorer.scroll_into_view_if_needed(timeout=ms)
                student.explorer_s = time.monotonic() - arrived
                _press_steps(labtools, explorer, student, steps=steps, pause=pause,
                             timeout=timeout, deadline=deadline)
                if hub.voila_pool is None:
                    student.memory = student_memory(hub.run_id, student.name)
                if shots is not None:
                    page.screenshot(path=str(Path(shots) / f"{student.name}.png"))
            finally:
                browser.close()
    except Exception as error:
        student.failure = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"


# ------------------------------------------------------------------------------ the class
def course_repository(scratch: Path) -> str:
    """A ``file://`` git repository of this checkout's HEAD, on branch ``main``, for
    nbgitpuller to clone (a scratch clone: the checkout may be on another branch or detached,
    and the link's clone folder is then always ``marginloops``)."""
    target = Path(scratch) / "course" / "marginloops"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=120,
                   capture_output=True)
    subprocess.run(["git", "-C", str(target), "checkout", "-q", "-B", "main"], check=True,
                   timeout=60, capture_output=True)
    return target.as_uri()


def run_class(n_api: int = 3, n_browser: int = 1, *, steps: int = 20,
              pause: tuple[float, float] = (2.0, 4.0), arrive_within: float = 0.0,
              timeout: float = 150.0, deadline_s: float = 900.0, scratch: Path | None = None,
              seed: int = 0, n_voila: int = 0, n_voila_browser: int = 0,
              voila_pool: int | None = None, server_args: tuple[str, ...] = (),
              hub_config: tuple[str, ...] = (), prestart: bool = False,
              ws_protocol: str = V1_PROTOCOL, screenshots: Path | None = None,
              fork_kernels: bool = True, browser_nice: int = 0) -> dict:
    """Run a class (see the module docstring) and return its report (:func:`summarise`).

    ``pause``: seconds between a student's Steps, drawn uniformly ((0, 0): no pause);
    ``arrive_within``: students arrive spread uniformly over this many seconds;
    ``timeout``: for one request, one message, one page wait; ``deadline_s``: the whole run.
    ``n_voila`` / ``n_voila_browser``: students who open lesson 03 in Voilà instead, without a
    browser (:func:`voila_student`) or in Chromium (:func:`voila_browser_student`), each in
    their own server (Voilà as its server extension), or, with ``voila_pool`` (an int), all in
    one shared Voilà service with that many preheated kernels (:meth:`Hub.voila_service`).
    ``server_args``, ``hub_config``: passed to :class:`Hub`. ``prestart``: start every
    student's server before the class, as a teacher does with ``python -m marginloops
    start-servers`` (:mod:`marginloops.hubstart`, five at a time); ``prestart_s`` reports how
    long that took.
    ``ws_protocol``: the kernel websocket protocol of the students without a browser (default:
    JupyterLab's; ``""``: the legacy JSON frames, which cost the server more).
    ``screenshots``: a folder where each browser student's page is saved after its Steps.
    ``fork_kernels``: kernels forked from each server's fork server, as deployed
    (:mod:`marginloops.kernelfork`), or False: started the usual way. ``browser_nice``: the
    browser students' Chromium at this niceness (:func:`chromium_for`).
    """
    from marginloops.links import nbgitpuller_link

    counts = (n_api, n_browser, n_voila, n_voila_browser)
    if min(counts) < 0 or sum(counts) > MAX_STUDENTS:
        raise ValueError(f"n_api + n_browser + n_voila + n_voila_browser must be between 0 and "
                         f"{MAX_STUDENTS}; got {' + '.join(map(str, counts))}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    rng = random.Random(seed)
    students = [Student(f"student{i:02d}", arrive_s=rng.uniform(0, arrive_within))
                for i in range(n_api)]
    students += [Student(f"browser{i:02d}", browser=True, arrive_s=rng.uniform(0, arrive_within))
                 for i in range(n_browser)]
    students += [Student(f"voila{i:02d}", voila=True, arrive_s=rng.uniform(0, arrive_within))
                 for i in range(n_voila)]
    students += [Student(f"voilabrowser{i:02d}", browser=True, voila=True,
                         arrive_s=rng.uniform(0, arrive_within)) for i in range(n_voila_browser)]
    own_scratch = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="hubclass-")) if own_scratch else Path(scratch)
    report: dict = {}
    repository = course_repository(scratch)
    report["fork_kernels"] = bool(fork_kernels)
    report["browser_nice"] = browser_nice
    hub = Hub(scratch, voila_pool=voila_pool, server_args=server_args, hub_config=hub_config,
              fork_kernels=fork_kernels, browser_nice=browser_nice,
              voila_lesson=Path(repository.removeprefix("file://")) / "lessons" / LESSON.name,
              start_timeout=max(60.0, 20.0 * (voila_pool or 0)))
    began = time.monotonic()
    cpu = CpuSampler()
    try:
        with hub:
            report["hub_start_s"] = time.monotonic() - began
            report["pool_filled_s"] = hub.pool_filled_s
            with hub.session() as api:
                api.post(f"{hub.url}/hub/api/users", timeout=timeout,
                         json={"usernames": [s.name for s in students]}).raise_for_status()
            if prestart:  # as a teacher does: python -m marginloops start-servers
                began_prestart = time.monotonic()
                names = [s.name for s in students if voila_pool is None or not s.voila]
                outcomes = start_servers(HubAPI(hub.url, hub.token, timeout), names,
                                         timeout=timeout)
                failed = {n: o for n, o in outcomes.items() if o != READY}
                if failed:
                    raise RuntimeError(f"starting the servers before class: {failed}")
                hub.prestarted = True
                report["prestart_s"] = time.monotonic() - began_prestart
            link = nbgitpuller_link(hub.url, repository, lesson="03")
            voila_link = nbgitpuller_link(hub.url, repository, lesson="03", app="voila")
            start = time.monotonic()
            deadline = began + deadline_s
            common = {"steps": steps, "pause": pause, "timeout": timeout, "deadline": deadline,
                      "start": start}
            cpu.start()
            with ThreadPoolExecutor(max_workers=len(students) or 1) as pool:
                futures = [
                    pool.submit(voila_browser_student, hub, s, voila_link, shots=screenshots,
                                **common)
                    if s.browser and s.voila else
                    pool.submit(browser_student, hub, s, link, shots=screenshots, **common)
                    if s.browser else
                    pool.submit(voila_student, hub, s, protocol=ws_protocol, **common)
                    if s.voila else
                    pool.submit(api_student, hub, s, protocol=ws_protocol, **common)
                    for s in students]
                for future in futures:
                    future.result(timeout=max(1.0, deadline - time.monotonic() + 60))
            report["class_s"] = time.monotonic() - start
            report["cpu"] = cpu.stop()
            report["cpu_seconds"] = cpu_seconds_by_role(hub)
            report["hub_memory"] = _hub_memory(hub)
            report["voila_service"] = voila_service_memory(hub)
            report["hub_log_tail"] = hub.log_tail(30)
    finally:
        cpu.stop()
        report["leftover_processes"] = hub.stop()
        report["run_id"] = hub.run_id
        report["hub_exit_code"] = hub.process.poll() if hub.process else None
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    report.update(summarise(students))
    report["students"] = students
    return report


def _client_processes() -> dict[int, str]:
    """The students' own programs on this machine, which in a real class run on their laptops:
    Chromium and Playwright's driver (pid: what)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"chrom" in cmdline:
            found[int(entry.name)] = "chromium"
        elif b"playwright" in cmdline and b"node" in cmdline:
            found[int(entry.name)] = "playwright driver"
    return found


class CpuSampler:
    """The machine's CPU use, sampled every ``every`` seconds from /proc/stat in a thread:
    the busy share of all cores (1 - idle and iowait), the 1-minute load average, the machine's
    busy CPU-seconds, and those of the students' own programs that share these cores here
    (this harness, which plays the API students, Chromium and Playwright's driver)."""

    def __init__(self, every: float = 1.0):
        self.every, self.samples, self._stop = every, [], None
        self._clients: dict[int, tuple[str, float, float]] = {}  # pid: (what, first, last)
        self._busy_s = 0.0
        self._own0 = 0.0

    @staticmethod
    def _times() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]

    def start(self) -> None:
        import threading
        self._stop = threading.Event()

        self._own0 = time.process_time()
        self._sample_clients()
        tick = os.sysconf("SC_CLK_TCK")

        def probe():  # how late this process wakes: the harness's own delay in its figures
            while not self._stop.is_set():
                asked = time.perf_counter()
                time.sleep(0.01)
                self._late_ms.append((time.perf_counter() - asked - 0.01) * 1000)

        self._late_ms = []
        self._probe = threading.Thread(target=probe, daemon=True)
        self._probe.start()

        def sample():
            total0, idle0 = self._times()
            while not self._stop.wait(self.every):
                total, idle = self._times()
                if total > total0:
                    self.samples.append((1 - (idle - idle0) / (total - total0),
                                         os.getloadavg()[0]))
                    self._busy_s += ((total - total0) - (idle - idle0)) / tick
                total0, idle0 = total, idle
                self._sample_clients()

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def _sample_clients(self) -> None:
        for pid, what in _client_processes().items():
            used = _cpu_seconds(pid)
            first = self._clients.get(pid, (what, used, used))[1]
            self._clients[pid] = (what, first, used)

    def stop(self) -> dict:
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
            self._probe.join()
            self._stop = None
            self._own_s = time.process_time() - self._own0
        clients = {"harness (the API students)": getattr(self, "_own_s", 0.0)}
        for what, first, last in self._clients.values():
            clients[what] = clients.get(what, 0.0) + last - first
        busy = [b * 100 for b, _ in self.samples]
        return {"machine_cpu_s": self._busy_s, "client_cpu_s": clients,
                "harness_late_ms": percentiles(getattr(self, "_late_ms", [])),
                "busy_pct": percentiles(busy),
                "busy_mean_pct": statistics.fmean(busy) if busy else None,
                "seconds_over_95pct": sum(b > 95 for b in busy) * self.every,
                "load_max": max((load for _, load in self.samples), default=None)}


def _role(pid: int, hub: Hub) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    env = _environ(pid)
    if "ipykernel" in cmdline:
        return "kernels"
    if _is_fork_process(pid):
        return "kernels" if _forked_kernel(pid) else "fork servers"
    if env.get("JUPYTERHUB_SERVICE_NAME") == "voila":
        return "voila service"
    if "JUPYTERHUB_USER" in env:
        return "servers"
    if "configurable-http-proxy" in cmdline:
        return "proxy"
    if pid == hub.process.pid:
        return "hub"
    if "chrom" in cmdline:
        return "chromium"
    return None


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_role(hub: Hub) -> dict:
    """CPU seconds (user + system) so far of the live marked processes, by role: the hub, the
    proxy, the students' servers, their kernel fork servers, the kernels, the Voilà service,
    Chromium."""
    totals: dict = {}
    for pid in marked_processes(hub.run_id):
        role = _role(pid, hub)
        if role:
            totals[role] = totals.get(role, 0.0) + _cpu_seconds(pid)
    return totals


def voila_service_memory(hub: Hub) -> dict:
    """RSS and PSS (MiB) of the Voilà service and its kernels, and how many kernels."""
    pids = [pid for pid in marked_processes(hub.run_id)
            if _environ(pid).get("JUPYTERHUB_SERVICE_NAME") == "voila"]
    sizes = [memory_kib(pid) for pid in pids]
    return {"processes": len(pids), "rss_mib": sum(s[0] for s in sizes) / 1024,
            "pss_mib": sum(s[1] for s in sizes) / 1024}


def _hub_memory(hub: Hub) -> dict:
    """RSS (MiB) of the hub and of the proxy."""
    sizes = {"hub_rss_mib": 0.0, "proxy_rss_mib": 0.0}
    for pid in marked_processes(hub.run_id):
        if "JUPYTERHUB_USER" in _environ(pid):
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        key = ("proxy_rss_mib" if "configurable-http-proxy" in cmdline else
               "hub_rss_mib" if pid == hub.process.pid else None)
        if key:
            sizes[key] += memory_kib(pid)[0] / 1024
    return sizes


def summarise(students: list[Student]) -> dict:
    """The class's figures: percentiles over students (times) and over Steps (latencies)."""
    api = [s for s in students if not s.browser]
    both = [s for s in students if s.memory]
    last = max((s.arrive_s + s.explorer_s for s in students if s.explorer_s is not None),
               default=float("inf"))
    return {
        "n_students": len(students),
        "failures": [(s.name, s.failure) for s in students if s.failure],
        "ready_s": percentiles(s.ready_s for s in students if s.ready_s is not None),
        "kernel_s": percentiles(s.kernel_s for s in api if s.kernel_s is not None),
        "cells_s": percentiles(s.cells_s for s in api if s.cells_s is not None),
        "explorer_s": percentiles(s.explorer_s for s in students if s.explorer_s is not None),
        "last_explorer_s": max((s.arrive_s + s.explorer_s for s in students
                                if s.explorer_s is not None), default=None),
        "step_kernel_ms": percentiles(ms for s in api for ms in s.step_kernel_ms),
        "step_round_trip_ms": percentiles(ms for s in api for ms in s.step_round_trip_ms),
        "redraw_ms": percentiles(ms for s in students for ms in s.redraw_ms),
        "steps_price_unchanged": sum(not c for s in api for c in s.price_changed),
        "memory_rss_mib": percentiles(s.memory["rss_mib"] for s in both),
        "memory_pss_mib": percentiles(s.memory["pss_mib"] for s in both),
        "memory_mean_rss_mib": statistics.fmean(s.memory["rss_mib"] for s in both) if both
        else None,
        # the Steps sent once every explorer was built (the class's arrival is over): the
        # steady state of a class at work, without the burst of servers and kernels starting
        "step_round_trip_after_arrival_ms": percentiles(
            ms for s in api for ms, at in zip(s.step_round_trip_ms, s.step_at, strict=False)
            if at > last),
        "step_kernel_after_arrival_ms": percentiles(
            ms for s in api for ms, at in zip(s.step_kernel_ms, s.step_at, strict=False)
            if at > last),
        "voila_click_after_arrival_ms": percentiles(
            ms for s in api for ms, at in zip(s.click_ms, s.step_at, strict=False)
            if at > last),
        # Voilà students: the render (first byte, whole page), the Step clicks over the comm
        "voila_first_byte_s": percentiles(s.first_byte_s for s in students
                                          if s.first_byte_s is not None),
        "voila_page_s": percentiles(s.page_s for s in students if s.page_s is not None),
        "voila_click_ms": percentiles(ms for s in students for ms in s.click_ms),
    }


def format_report(report: dict) -> str:
    """The report as lines of text (figures rounded)."""
    def fmt(p, unit, digits=0):
        if not p or not p.get("n"):
            return "n/a"
        return (f"p50 {p['p50']:.{digits}f} / p95 {p['p95']:.{digits}f} / "
                f"max {p['max']:.{digits}f} {unit} (n={p['n']})")

    measured = [s for s in report["students"] if s.memory]
    forked = sum(s.memory.get("forked_kernels", 0) for s in measured)
    lines = [
        f"students: {report['n_students']}, failures: {len(report['failures'])}; kernels "
        + (f"forked (marginloops.kernelfork): {forked} in {len(measured)} students' servers"
           if report.get("fork_kernels", True) else "started the usual way")
        + (f"; the browser students' Chromium at nice {report['browser_nice']}"
           if report.get("browser_nice") else ""),
        f"time to a ready server: {fmt(report['ready_s'], 's', 1)}",
        f"then upload + kernel start: {fmt(report['kernel_s'], 's', 1)}; the lesson's cells: "
        f"{fmt(report['cells_s'], 's', 1)}",
        f"time to a built explorer: {fmt(report['explorer_s'], 's', 1)}; the last one "
        f"{report['last_explorer_s'] or float('nan'):.1f} s after the class began",
        f"Step inside the kernel: {fmt(report['step_kernel_ms'], 'ms')}",
        f"Step round trip: {fmt(report['step_round_trip_ms'], 'ms')}",
        f"  once every explorer was built: round trip "
        f"{fmt(report.get('step_round_trip_after_arrival_ms'), 'ms')}; in the kernel "
        f"{fmt(report.get('step_kernel_after_arrival_ms'), 'ms')}",
        f"click to redraw (browser): {fmt(report['redraw_ms'], 'ms')}",
        f"memory per student, RSS: {fmt(report['memory_rss_mib'], 'MiB')}; PSS: "
        f"{fmt(report['memory_pss_mib'], 'MiB')}",
        f"hub / proxy RSS: {report.get('hub_memory', {}).get('hub_rss_mib', 0):.0f} / "
        f"{report.get('hub_memory', {}).get('proxy_rss_mib', 0):.0f} MiB",
        f"Steps that left the price (Voilà: the round) unchanged: "
        f"{report['steps_price_unchanged']}",
        f"processes left after the run: {report['leftover_processes']}",
    ]
    if report.get("voila_page_s", {}).get("n"):
        service = report.get("voila_service") or {}
        lines[5:5] = [
            f"Voilà render, first byte: {fmt(report['voila_first_byte_s'], 's', 1)}; whole "
            f"page (the notebook executed): {fmt(report['voila_page_s'], 's', 1)}",
            f"Voilà Step click to the kernel's idle (API): {fmt(report['voila_click_ms'], 'ms')}"
            f"; once every page was up: {fmt(report.get('voila_click_after_arrival_ms'), 'ms')}",
        ]
        if service.get("processes"):
            lines.append(f"Voilà service and its kernels: {service['processes']} processes, "
                         f"RSS {service['rss_mib']:.0f} MiB, PSS {service['pss_mib']:.0f} MiB; "
                         f"pool filled {report.get('pool_filled_s') or 0:.1f} s after start")
    cpu = report.get("cpu")
    if cpu and cpu["busy_pct"]["n"]:
        lines.append(f"CPU busy (both cores): mean {cpu['busy_mean_pct']:.0f} %, "
                     f"{fmt(cpu['busy_pct'], '%')}; {cpu['seconds_over_95pct']:.0f} s over "
                     f"95 %; load average up to {cpu['load_max']:.1f}")
    if report.get("cpu_seconds"):
        lines.append("CPU seconds by role: " + ", ".join(
            f"{role} {sec:.0f}" for role, sec in sorted(report["cpu_seconds"].items())))
    if cpu and cpu.get("harness_late_ms", {}).get("n"):
        lines.append("the harness (the students' side) woke late by "
                     f"{fmt(cpu['harness_late_ms'], 'ms', 1)}: part of every time it measures")
    if cpu and cpu.get("client_cpu_s"):
        lines.append(
            f"during the class the machine was busy {cpu['machine_cpu_s']:.0f} CPU-s, of which "
            "the students' own programs (on their laptops in a real class): " + ", ".join(
                f"{what} {sec:.0f}" for what, sec in sorted(cpu["client_cpu_s"].items())))
    lines += [f"FAILED {name}: {why}" for name, why in report["failures"]]
    return "\n".join(lines)

