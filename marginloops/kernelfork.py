"""Kernels forked from a warm process: a class's kernels start without importing everything.

A student's kernel spends most of its start importing: IPython and ipykernel (about 0.25
CPU-seconds before it answers), then numpy and pandas (0.3 more, pandas through bqplot), on
every student's server, all in the minute a class opens its links (benchmarks/README.md, "A
class on a JupyterHub"). This module moves that work before the class: a **fork server**,
started with the student's Jupyter server, imports those libraries once and waits; each new
kernel is a ``fork()`` of it that then runs ``ipykernel_launcher`` as usual, with the kernel's
own environment, working folder and connection file. What the fork shares is read-only until
written (copy-on-write), so the kernels' memory is partly shared too.

Switch it on for a Jupyter server (deploy/jupyterhub_config.py does, for the students'
servers)::

    jupyter lab --ServerApp.jpserver_extensions=marginloops.kernelfork=True

The server extension starts the fork server and makes :class:`ForkProvisioner` (registered as
the kernel provisioner ``marginloops-fork``) the default one: jupyter_client asks a provisioner
to launch, signal and stop each kernel (https://jupyter-client.readthedocs.io/en/latest/
provisioning.html). It forks only a kernel whose command is this Python's
``-m ipykernel_launcher``; any other kernel, or any trouble reaching the fork server, and the
kernel is started the usual way (:class:`~jupyter_client.provisioning.LocalProvisioner`), with a
warning in the server's log: trouble with the fork server never stops a kernel from starting.

What a forked kernel keeps from an ordinary one:

- it runs ``python -m ipykernel_launcher -f <connection file>`` in its own session and process
  group (``setsid``, as jupyter_client's launcher does), with the environment and working
  folder jupyter_client gives it, stdin from ``/dev/null``, stdout and stderr the server's;
- interrupt, restart and shutdown signal its process group; ipykernel's parent poller stops it
  if the fork server goes (which stops when the Jupyter server goes), as a kernel stops when its
  server goes;
- Python reseeds ``random`` in a forked child; numpy's global generator is reseeded here, so two
  students' ``np.random.rand()`` differ;
- a library upgraded while the server runs: the fork server notices (a pre-imported module's
  file changed) and refuses; that kernel starts the usual way with the new code, and a new fork
  server replaces the old one, which leaves once its kernels have ended.

Only libraries with no import-time tie to a running kernel are imported ahead (not ipywidgets,
which registers its comm targets when imported inside a kernel). Linux only (``fork``,
``os.pidfd_open``); elsewhere every kernel starts the usual way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

# ForkProvisioner is made on first use (module __getattr__): no Jupyter import before
__all__ = ["ForkProvisioner", "ForkServer", "PREIMPORTS", "SERVER_ARGUMENT",  # noqa: F822
           "fork_request", "fork_server", "main"]

#: Imported by the fork server before any kernel: IPython and ipykernel (the kernel itself),
#: numpy and pandas (every lesson's first cell, pandas through bqplot). Measured on a 2-core
#: machine: a kernel's start 0.25 CPU-s, ``import numpy, pandas`` 0.34 CPU-s more.
PREIMPORTS = ("IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "numpy", "pandas")
#: The kernel command a fork replaces: ``<this python> -m ipykernel_launcher ...``.
LAUNCHER = "ipykernel_launcher"
#: The Jupyter server's argument that switches this on (deploy/: every hub's students' servers).
SERVER_ARGUMENT = "--ServerApp.jpserver_extensions=marginloops.kernelfork=True"
#: Environment variables read when Python or the pre-imported libraries start (their prefixes).
STARTUP_VARIABLES = ("PYTHON", "OPENBLAS_", "OMP_", "MKL_", "NUMEXPR_", "LD_")
#: Seconds to wait for the fork server's answer before starting a kernel the usual way.
ANSWER_TIMEOUT = 10.0
#: Seconds a kernel waits for a fork server that is still importing (its socket not yet there):
#: a server asked for a kernel as soon as it started, on a machine busy with a whole class.
STARTING_WAIT = 30.0
#: The longest path a Unix socket may have on Linux (sun_path is 108 bytes with its NUL).
SOCKET_PATH_MAX = 100

log = logging.getLogger(__name__)


def forkable() -> bool:
    """Whether this platform can fork kernels (``fork`` and ``pidfd_open``: Linux 5.3+)."""
    return hasattr(os, "fork") and hasattr(os, "pidfd_open") and sys.platform.startswith("linux")


# ----------------------------------------------------------------------- the fork server
def _module_files() -> dict[str, int]:
    """Every imported module's file and its modification time (ns)."""
    files = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            with contextlib.suppress(OSError):
                files[path] = os.stat(path).st_mtime_ns
    return files


def _changed(files: dict[str, int]) -> str | None:
    """The first pre-imported module file that changed or went since the server started."""
    for path, mtime in files.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return path
        except OSError:
            return path
    return None


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def _receive(conn: socket.socket, limit: int = 1 << 22) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError(f"request longer than {limit} bytes")
    return json.loads(data)


def _check_request(request) -> str | None:
    """Why a request is refused, or None."""
    if not isinstance(request, dict):
        return "a request is a JSON object"
    argv, env, cwd = request.get("argv"), request.get("env"), request.get("cwd")
    if not (isinstance(argv, list) and argv[:1] == [LAUNCHER]
            and all(isinstance(a, str) for a in argv)):
        return f"argv must be [{LAUNCHER!r}, ...], got {argv!r:.80}"
    if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str)
                                          for k, v in env.items())):
        return "env must map names to strings"
    if not (isinstance(cwd, str) and os.path.isdir(cwd)):
        return f"cwd must be a folder, got {cwd!r:.80}"
    return None


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)  # through serve's finally: the socket's file goes too


def serve(path: str, parent: int, *, preimports=PREIMPORTS, poll: float = 1.0):
    """The fork server: import ``preimports``, listen on the Unix socket ``path``, fork a
    kernel for each request. Returns only in a forked child, with its request (the caller then
    becomes the kernel: :func:`become_kernel`); in the server it returns None when it is done:
    the process ``parent`` has gone, or it refused a request as stale and its kernels ended.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C at the server's terminal: the server
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # stops, then this one sees it has gone
    # What the kernels share stays shared as long as nothing writes to it: no collection here
    # (it leaves holes in pages), and what was imported frozen out of the kernels' collections
    # (the gc module's notes on fork without exec; the kernel re-enables it)
    gc.disable()
    for name in preimports:
        importlib.import_module(name)
    gc.freeze()
    files = _module_files()
    start_folder = os.getcwd()
    me = os.getpid()
    children: set[int] = set()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    old_umask = os.umask(0o177)  # the socket: this user only
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(64)
    listener.settimeout(poll)
    accepting = True
    try:
        while True:
            for pid in list(children):  # reap the kernels that ended
                try:
                    done = os.waitpid(pid, os.WNOHANG)[0]
                except ChildProcessError:
                    done = pid
                if done:
                    children.discard(pid)
            if os.getppid() != parent:
                return None  # the Jupyter server went: so do we (and our kernels after us)
            if not accepting:
                if not children:
                    return None
                time.sleep(poll)
                continue
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(ANSWER_TIMEOUT)
                try:
                    request = _receive(conn)
                except (OSError, ValueError) as exc:
                    with contextlib.suppress(OSError):
                        _send(conn, {"error": f"unreadable request: {exc}"})
                    continue
                stale = _changed(files)
                refused = _check_request(request) or (
                    f"stale: {stale} changed since the fork server started" if stale else None)
                if refused:
                    with contextlib.suppress(OSError):
                        _send(conn, {"error": refused, "stale": bool(stale)})
                    if stale:  # a new server takes over; this one leaves with its kernels
                        accepting = False
                        listener.close()
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(path)
                    continue
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    return _prepare_child(conn, request, start_folder)
                children.add(pid)
    finally:
        if accepting:
            with contextlib.suppress(OSError):
                listener.close()
            if os.getpid() == me:  # the server's own socket (a child returns through here)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


def _prepare_child(conn: socket.socket, request: dict, start_folder: str) -> dict:
    """In the forked child: its own session, signals as a fresh Python has them, the kernel's
    environment and folder (and ``sys.path[0]``, which ``python -m`` makes the folder it
    started in: a notebook imports a module beside it), a fresh numpy seed, the garbage
    collector back on; then tell the provisioner its pid."""
    try:
        gc.enable()
        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        if sys.path and sys.path[0] == start_folder:
            sys.path[0] = os.getcwd()
        os.environ.clear()
        os.environ.update(request["env"])
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        parent = request["env"].get("JPY_PARENT_PID")
        if parent:  # ipykernel read JPY_PARENT_PID when the fork server imported it: say it
            argv = [*request["argv"], f"--IPKernelApp.parent_handle={parent}"]  # again
            request = {**request, "argv": argv}
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed()  # not the fork server's state: Python reseeds only `random`
        _send(conn, {"pid": os.getpid()})
        conn.close()
    except BaseException as exc:  # noqa: BLE001 - told to the provisioner, then gone
        with contextlib.suppress(OSError):
            _send(conn, {"error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    return request


def become_kernel(request: dict) -> None:
    """Run ``ipykernel_launcher`` as ``python -m`` would, with the request's arguments; its
    SystemExit ends this process as it ends an ordinary kernel (atexit handlers run)."""
    import runpy

    sys.argv = list(request["argv"])
    runpy.run_module(LAUNCHER, run_name="__main__", alter_sys=True)


def main(argv=None) -> int:
    """``python -m marginloops.kernelfork --socket PATH --parent PID``: the fork server."""
    parser = argparse.ArgumentParser(prog="python -m marginloops.kernelfork",
                                     description="Fork Jupyter kernels from a warm process.")
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--parent", type=int, required=True,
                        help="the Jupyter server's pid: the fork server leaves when it goes")
    parser.add_argument("--preimport", action="append", metavar="MODULE",
                        help=f"a module to import ahead (repeatable; default {PREIMPORTS})")
    args = parser.parse_args(argv)
    request = serve(args.socket, args.parent, preimports=args.preimport or PREIMPORTS)
    if request is not None:
        become_kernel(request)
    return 0


# --------------------------------------------------------------- in the Jupyter server
class ForkServer:
    """A fork server started by this process (the Jupyter server), and how to ask it."""

    def __init__(self, python: str = sys.executable, folder: str | None = None,
                 preimports=None):
        name = f"marginloops-kernelfork-{os.getpid()}-{id(self)}.sock"
        path = os.path.join(folder or _socket_folder(), name)
        if len(os.fsencode(path)) > SOCKET_PATH_MAX:  # a Unix socket's path is short
            path = os.path.join(tempfile.gettempdir(), name)
        self.python, self.preimports, self.path = python, preimports, path
        self.process: subprocess.Popen | None = None

    def start(self) -> ForkServer:
        self.process = subprocess.Popen(
            [self.python, "-m", "marginloops.kernelfork", "--socket", self.path,
             "--parent", str(os.getpid())]
            + [f"--preimport={name}" for name in self.preimports or ()],
            stdin=subprocess.DEVNULL)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)

    async def fork(self, argv: list[str], env: dict[str, str], cwd: str,
                   timeout: float = ANSWER_TIMEOUT) -> dict:
        """Ask for a kernel: ``{"pid": ...}``, or ``{"error": ..., "stale": bool}``. Raises
        OSError when the server cannot be reached (not started yet, gone)."""
        loop = asyncio.get_running_loop()
        wait_until = loop.time() + STARTING_WAIT
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(self.path), timeout)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                # still importing (its socket comes after): wait for it rather than import
                # everything again beside it, unless it has gone
                if not self.running() or loop.time() > wait_until:
                    raise
                await asyncio.sleep(0.1)
        try:
            writer.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
        finally:
            writer.close()
        if not line:
            raise ConnectionError("the fork server closed the connection without an answer")
        return json.loads(line)


def _socket_folder() -> str:
    """The user's Jupyter runtime folder (private to them)."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        folder = jupyter_runtime_dir()
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except (ImportError, OSError):
        folder = tempfile.gettempdir()
    return folder


_server: ForkServer | None = None


def fork_server(start: bool = True) -> ForkServer | None:
    """This Jupyter server's fork server (started when ``start`` and none runs)."""
    global _server
    if (_server is None or not _server.running()) and start and forkable():
        _server = ForkServer().start()
    return _server


_draining: list[ForkServer] = []


def _replace_stale() -> None:
    """A fork server refused a kernel as stale: a new one takes its place (with the same
    settings); the old one leaves by itself once its kernels have ended."""
    global _server
    old = _server
    if old is not None:
        _draining[:] = [s for s in _draining if s.running()] + [old]
    _server = ForkServer(old.python if old else sys.executable,
                         preimports=old.preimports if old else None).start()


class ForkedKernel:
    """What jupyter_client's provisioner needs of ``Popen`` for a kernel that is not this
    process's child: poll, wait, signals (through a pidfd: no signal reaches a reused pid).
    Its exit status is not known here: ``returncode`` is 0 once it has ended."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd, self.returncode = None, 0

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._fd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._ended()
        return self.returncode

    def _ended(self) -> None:
        os.close(self._fd)
        self._fd, self.returncode = None, 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._fd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_request(cmd: list[str], kwargs: dict):
    """``(argv, env, cwd)`` for the fork server, or None when this kernel is not one it can
    give: another program or Python, a redirected stream, a Popen option it does not take."""
    if not forkable() or len(cmd) < 3 or list(cmd[1:3]) != ["-m", LAUNCHER]:
        return None
    if os.path.realpath(cmd[0]) != os.path.realpath(sys.executable):
        return None
    if set(kwargs) - {"env", "cwd", "kernel_id", "extra_arguments"}:
        return None
    env = dict(kwargs.get("env") or os.environ)
    # what Python and the pre-imported libraries read when they start (the path, the hash
    # seed, BLAS threads): a kernel asked for with other values than the fork server started
    # with (this server's) is started the usual way
    if any(env.get(name) != os.environ.get(name) for name in {*env, *os.environ}
           if name.startswith(STARTUP_VARIABLES)):
        return None
    cwd = os.fspath(kwargs.get("cwd") or os.getcwd())
    return [LAUNCHER, *cmd[3:]], env, cwd


def _provisioner_class():
    """:class:`ForkProvisioner`, made when first asked for (by jupyter_client's entry point,
    or the server extension): importing this module loads no Jupyter library."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """jupyter_client's local provisioner, launching ``python -m ipykernel_launcher``
        kernels as forks of the fork server (:mod:`marginloops.kernelfork`); any other kernel,
        and any kernel the fork server cannot give, the usual way."""

        async def launch_kernel(self, cmd: list[str], **kwargs):
            request = fork_request(cmd, kwargs)
            server = fork_server(start=request is not None)
            if request is None or server is None:
                return await super().launch_kernel(cmd, **kwargs)
            argv, env, cwd = request
            env["JPY_PARENT_PID"] = str(server.process.pid)  # ipykernel's parent poller
            try:
                answer = await server.fork(argv, env, cwd)
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            if "pid" not in answer:
                log.warning("marginloops.kernelfork: kernel started the usual way (%s)",
                            answer.get("error"))
                if answer.get("stale"):
                    _replace_stale()
                return await super().launch_kernel(cmd, **kwargs)
            self.process = ForkedKernel(int(answer["pid"]))
            self.pid = self.pgid = self.process.pid  # its own session: setsid in the child
            self.cwd = cwd
            return self.connection_info

    ForkProvisioner.__module__ = __name__
    return ForkProvisioner


def __getattr__(name):
    if name == "ForkProvisioner":
        globals()[name] = cls = _provisioner_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------- the server extension
def _jupyter_server_extension_points():
    return [{"module": "marginloops.kernelfork"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Start the fork server with the Jupyter server, and make :class:`ForkProvisioner` the
    default provisioner of its kernels (a kernel spec naming its own provisioner keeps it)."""
    if not forkable():
        serverapp.log.info("marginloops.kernelfork: not on this platform; kernels as usual")
        return
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    KernelProvisionerFactory.instance().default_provisioner_name = "marginloops-fork"
    server = fork_server()
    serverapp.log.info("marginloops.kernelfork: kernels fork from pid %s (%s)",
                       server.process.pid, server.path)


if __name__ == "__main__":
    sys.exit(main())
