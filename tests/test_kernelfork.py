"""Kernels forked from a warm process (marginloops.kernelfork): real kernels through
jupyter_client's kernel manager, with the ``marginloops-fork`` provisioner named in a kernel
spec, as a Jupyter server starts them. The same provisioner in a real JupyterHub's servers:
tests/hub/test_hub_small.py."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marginloops import kernelfork

pytestmark = pytest.mark.skipif(not kernelfork.forkable(), reason="needs Linux (fork, pidfd)")
jupyter_client = pytest.importorskip("jupyter_client")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402

PROBE = """
import json, os, sys
print(json.dumps({"cwd": os.getcwd(), "x": os.environ.get("MARGINLOOPS_TEST_X"),
                  "beside": __import__("beside_notebook").VALUE, "path": sys.path,
                  "gc": __import__("gc").isenabled(),
                  "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0),
                  "sid": os.getsid(0), "pandas_before": "pandas" in sys.modules,
                  "stdin": os.readlink("/proc/self/fd/0")}))
import numpy
print(json.dumps({"rand": numpy.random.randint(0, 2**31, size=4).tolist()}))
"""


@pytest.fixture
def specs(tmp_path):
    """A kernel spec that names the provisioner, as a kernel spec's metadata may
    (https://jupyter-client.readthedocs.io/en/latest/provisioning.html)."""
    folder = tmp_path / "kernels" / "forked"
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "forked", "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "marginloops-fork"}}}))
    (tmp_path / "beside_notebook.py").write_text("VALUE = 7\n")  # imported by PROBE
    return KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])


@pytest.fixture
def server(tmp_path, monkeypatch):
    """This process's fork server, fresh for the test and stopped after it, started in a
    folder of its own (as a Jupyter server starts in the student's home)."""
    kernelfork._server = None
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    yield kernelfork.fork_server()
    for each in [kernelfork._server, *kernelfork._draining]:
        if each is not None:
            each.stop()
    kernelfork._server = None
    kernelfork._draining.clear()


def _outputs(msgs):
    return [json.loads(line) for m in msgs if m["msg_type"] == "stream"
            for line in m["content"]["text"].splitlines()]


async def _start(specs, cwd, **env):
    km = AsyncKernelManager(kernel_name="forked", kernel_spec_manager=specs)
    await km.start_kernel(cwd=str(cwd), env={**os.environ, **env})
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    return km, kc


async def _run(kc, code, timeout=60):
    msgs = []
    reply = await kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append)
    return reply["content"], _outputs(msgs)


async def _stop(km, kc):
    kc.stop_channels()
    await km.shutdown_kernel()


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid, seconds=10.0):
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def test_a_forked_kernel_runs_in_its_folder_with_its_environment(specs, server, tmp_path):
    async def go():
        km, kc = await _start(specs, tmp_path, MARGINLOOPS_TEST_X="42")
        first = await _run(kc, PROBE)
        km2, kc2 = await _start(specs, tmp_path)
        second = await _run(kc2, PROBE)
        assert isinstance(km.provisioner, kernelfork.ForkProvisioner)
        await _stop(km, kc)
        await _stop(km2, kc2)
        return first, second

    (status, [info, rand1]), (_, [info2, rand2]) = asyncio.run(go())
    assert status["status"] == "ok"
    assert info["cwd"] == str(tmp_path)
    # as with `python -m ipykernel_launcher` started there: a module beside the notebook
    # imports; the garbage collector runs (the fork server keeps it off)
    assert info["beside"] == 7 and info["gc"] is True
    assert str(tmp_path / "home") not in info["path"]  # where the fork server started
    assert info["x"] == "42" and info2["x"] is None  # each kernel its own environment
    # a fork of the fork server, which had imported pandas already; its own session and
    # process group (setsid), as jupyter_client's launcher gives a kernel; stdin /dev/null
    assert info["ppid"] == server.process.pid
    assert info["pandas_before"] is True
    assert info["pgid"] == info["sid"] == info["pid"]
    assert info["stdin"] == "/dev/null"
    # numpy's global generator reseeded in each fork: two students' draws differ
    assert rand1["rand"] != rand2["rand"]
    assert _wait_gone(info["pid"]) and _wait_gone(info2["pid"])


def test_interrupt_restart_and_shutdown_reach_a_forked_kernel(specs, server, tmp_path):
    async def go():
        km, kc = await _start(specs, tmp_path)
        _, [before, _] = await _run(kc, PROBE)
        kc.execute("import time; time.sleep(60)")
        await asyncio.sleep(1.0)
        began = time.monotonic()
        await km.interrupt_kernel()
        reply = await kc.get_shell_msg(timeout=20)
        interrupted_in = time.monotonic() - began
        after_interrupt = await _run(kc, "print(1 + 1)")
        await km.restart_kernel()
        await kc.wait_for_ready(timeout=60)
        _, [restarted, _] = await _run(kc, PROBE)
        await _stop(km, kc)
        return before, reply, interrupted_in, after_interrupt, restarted

    before, reply, interrupted_in, after_interrupt, restarted = asyncio.run(go())
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert interrupted_in < 10  # the sleep was cut short, not waited out
    assert after_interrupt[0]["status"] == "ok"
    # the restart killed the first kernel and forked another
    assert restarted["pid"] != before["pid"] and restarted["ppid"] == server.process.pid
    assert _wait_gone(before["pid"])
    assert _wait_gone(restarted["pid"])  # shut down


def test_without_a_fork_server_the_kernel_starts_the_usual_way(specs, tmp_path, monkeypatch,
                                                               caplog):
    gone = kernelfork.ForkServer(python="/bin/false").start()
    gone.process.wait(10)
    monkeypatch.setattr(kernelfork, "fork_server", lambda start=True: gone)

    async def go():
        km, kc = await _start(specs, tmp_path)
        out = await _run(kc, PROBE)
        await _stop(km, kc)
        return out

    with caplog.at_level(logging.WARNING, logger="marginloops.kernelfork"):
        status, [info, _] = asyncio.run(go())
    assert status["status"] == "ok"
    assert info["ppid"] == os.getpid()  # launched by jupyter_client itself
    assert info["pandas_before"] is False
    assert "kernel started the usual way" in caplog.text


def test_a_stale_fork_server_hands_over_and_leaves_after_its_kernels(specs, server, tmp_path,
                                                                     monkeypatch):
    # a library upgraded while the server runs: the kernel after it gets the new code
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "course_lib.py").write_text("VERSION = 1\n")
    monkeypatch.setenv("PYTHONPATH", str(lib))
    server.stop()
    kernelfork._server = kernelfork.ForkServer(
        preimports=[*kernelfork.PREIMPORTS, "course_lib"]).start()
    old = kernelfork._server

    async def go():
        km, kc = await _start(specs, tmp_path)
        _, [first, _, version1] = await _run(
            kc, PROBE + "import course_lib; print(course_lib.VERSION)")
        assert version1 == 1
        stamp = (lib / "course_lib.py").stat().st_mtime_ns
        (lib / "course_lib.py").write_text("VERSION = 2\n")
        os.utime(lib / "course_lib.py", ns=(stamp + 10**9, stamp + 10**9))
        km2, kc2 = await _start(specs, tmp_path)
        _, [second, _] = await _run(kc2, PROBE)
        _, version = await _run(kc2, "import course_lib; print(course_lib.VERSION)")
        old_alive_with_kernel = old.running()
        await _stop(km, kc)
        km3, kc3 = await _start(specs, tmp_path)
        _, [third, _] = await _run(kc3, PROBE)
        await _stop(km2, kc2)
        await _stop(km3, kc3)
        return first, second, version, old_alive_with_kernel, third

    first, second, version, old_alive_with_kernel, third = asyncio.run(go())
    assert first["ppid"] == old.process.pid
    assert second["ppid"] == os.getpid()  # refused as stale: started the usual way
    assert version == [2]
    assert kernelfork._server is not old  # a new fork server took over
    assert third["ppid"] == kernelfork._server.process.pid  # and forks the next kernel
    assert old_alive_with_kernel  # the old one stayed while its kernel ran...
    old.process.wait(15)  # ...and left once it had ended
    assert not Path(old.path).exists()


def _ask(path, request) -> dict:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(path)
        conn.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(conn.makefile().readline())


@pytest.fixture
def light_server(tmp_path):
    server = kernelfork.ForkServer(folder=str(tmp_path), preimports=["json"]).start()
    deadline = time.monotonic() + 30
    while not Path(server.path).exists() and server.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Path(server.path).exists(), "the fork server did not start"
    yield server
    server.stop()


@pytest.mark.parametrize("request_, says", [
    ({"argv": ["python", "-c", "1"], "env": {}, "cwd": "/"}, "argv must be"),
    ({"argv": ["ipykernel_launcher"], "env": {"A": 1}, "cwd": "/"}, "env must map"),
    ({"argv": ["ipykernel_launcher"], "env": {}, "cwd": "/no/such/folder"}, "cwd must be"),
    (["not", "an", "object"], "a request is a JSON object"),
])
def test_the_fork_server_refuses_what_is_not_a_kernel(light_server, request_, says):
    answer = _ask(light_server.path, request_)
    assert says in answer["error"] and "pid" not in answer
    assert light_server.running()  # and keeps serving


def test_the_socket_is_the_users_only(light_server):
    assert Path(light_server.path).stat().st_mode & 0o777 == 0o600


def test_the_fork_server_leaves_with_its_jupyter_server_and_cleans_up(tmp_path):
    # a stand-in for the Jupyter server starts the fork server, then dies
    script = (f"import sys, time; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); "
              "from marginloops import kernelfork; "
              f"s = kernelfork.ForkServer(folder={str(tmp_path)!r}, preimports=['json']).start(); "
              "print(s.process.pid, s.path, flush=True); time.sleep(3)")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as parent:
        pid, path = parent.stdout.readline().split()
        deadline = time.monotonic() + 30
        while not Path(path).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Path(path).exists() and _alive(int(pid))
        parent.wait(30)
    assert _wait_gone(int(pid), 15)
    assert not Path(path).exists()


def test_sigterm_stops_the_fork_server_and_removes_its_socket(light_server):
    os.kill(light_server.process.pid, signal.SIGTERM)
    assert light_server.process.wait(10) == 0
    assert not Path(light_server.path).exists()


@pytest.mark.parametrize("cmd, kwargs", [
    (["/bin/sh", "-c", "true"], {}),  # another program
    ([sys.executable, "-m", "other_kernel", "-f", "c.json"], {}),
    ([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"], {"stdout": 1}),  # Popen option
    ([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"], {"independent": True}),
])
def test_only_this_pythons_ipykernel_is_forked(cmd, kwargs):
    assert kernelfork.fork_request(cmd, kwargs) is None


@pytest.mark.parametrize("name", ["PYTHONPATH", "PYTHONHASHSEED", "OPENBLAS_NUM_THREADS"])
def test_a_kernel_with_other_startup_variables_starts_the_usual_way(name, monkeypatch):
    # read once, when the fork server started: a kernel spec's env changing them is honoured
    # by starting that kernel the usual way
    monkeypatch.delenv(name, raising=False)
    cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"]
    assert kernelfork.fork_request(cmd, {"env": {**os.environ, name: "1"}}) is None
    assert kernelfork.fork_request(cmd, {"env": dict(os.environ)}) is not None


def test_a_kernel_request_carries_its_arguments_environment_and_folder(tmp_path):
    cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"]
    argv, env, cwd = kernelfork.fork_request(
        cmd, {"env": {**os.environ, "A": "1"}, "cwd": tmp_path, "kernel_id": "k"})
    assert argv == ["ipykernel_launcher", "-f", "c.json"]
    assert env == {**os.environ, "A": "1"} and cwd == str(tmp_path)
