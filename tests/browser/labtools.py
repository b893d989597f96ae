"""Real-browser test helpers: Jupyter servers, notebook runs and widget probes.

Servers (JupyterLab, Voilà) run as subprocesses on 127.0.0.1; pages are driven by Playwright's
sync API in Debian's Chromium. conftest.py turns these into pytest fixtures.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Locator, Page, Route

#: Chromium from Debian's ``chromium`` package; Playwright cannot download its own here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: One generous timeout (milliseconds) for every wait: a cold kernel takes seconds.
TIMEOUT_MS = 60_000
#: Requests that do not go to 127.0.0.1 (CDNs, news feeds) are aborted at once.
NON_LOCAL_URL = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")
#: Where screenshots go unless ``MARGINLOOPS_SCREENSHOTS`` names another directory.
SCREENSHOT_DIR = Path(__file__).parent / "screenshots"

_copies = itertools.count(1)


@dataclass
class Server:
    """A Jupyter server (Lab or Voilà) started by the test session.

    ``root`` is the directory it serves; ``log_path`` holds its stdout and stderr;
    ``ready_path`` answers 200 once it serves (see :meth:`wait_ready`).
    """

    name: str
    process: subprocess.Popen
    base_url: str
    token: str
    root: Path
    log_path: Path
    ready_path: str = "api/status"
    #: Kernel shutdowns still under way (:func:`shutdown_kernels_soon`), and their failures.
    _shutdowns: list[threading.Thread] = field(default_factory=list, repr=False)
    _shutdown_errors: list[BaseException] = field(default_factory=list, repr=False)

    def wait_ready(self, timeout: float = TIMEOUT_MS) -> Server:
        """Wait until ``ready_path`` answers 200; return the server.

        Raises RuntimeError with the server's log (and stops it) if it dies or is not ready
        within ``timeout`` milliseconds.
        """
        deadline = time.monotonic() + timeout / 1000
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} before it was "
                    f"ready; log:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {self.ready_path} in time; log:\n{self.log_tail()}"
        )

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (which may carry a query) with the token appended."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, lines: int = 80) -> str:
        """The last ``lines`` lines of the server's log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def api(self, method: str, path: str) -> object:
        """Call the server's REST API; return the decoded JSON body (None if empty)."""
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def settle(self) -> None:
        """Wait for the kernel shutdowns :func:`shutdown_kernels_soon` began; raise the first
        error one met."""
        while self._shutdowns:
            self._shutdowns.pop().join()
        if self._shutdown_errors:
            error = self._shutdown_errors[0]
            self._shutdown_errors.clear()
            raise error

    def stop(self, timeout: float = 15) -> None:
        """Terminate the server's process group (it shuts its kernels down), then reap it."""
        for thread in self._shutdowns:  # it shuts them down anyway: no need to wait long
            thread.join(timeout)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def write_notebook(path: Path, *sources: str) -> Path:
    """Write a notebook of code cells (the python3 kernelspec named, so Lab asks nothing)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_server(
    name: str,
    argv: list[str],
    *,
    port: int,
    token: str,
    root: Path,
    scratch: Path,
    ready_path: str,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``argv`` in its own process group and return at once (not yet serving).

    Call :meth:`Server.wait_ready` before using it: a server launched ahead of the test that
    needs it boots while earlier tests run (see :class:`ServersAhead`).
    Jupyter's user config and runtime files go to ``scratch`` so nothing from the machine's
    ``~/.jupyter`` leaks in; installed lab extensions are still found under ``sys.prefix``.
    ``env``: more environment variables for the server (``JUPYTER_PATH``, say).
    """
    environ = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        IPYTHONDIR=str(scratch / "ipython"),
        **(env or {}),
    )
    scratch.mkdir(parents=True, exist_ok=True)
    log_path = scratch / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=root,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, f"http://127.0.0.1:{port}", token, root, log_path, ready_path)


def start_server(
    name: str, argv: list[str], *, port: int, token: str, root: Path, scratch: Path, ready_path: str
) -> Server:
    """Start ``argv`` in its own process group and wait until ``ready_path`` answers 200.

    Jupyter's user config and runtime files go to ``scratch`` so nothing from the machine's
    ``~/.jupyter`` leaks in; installed lab extensions are still found under ``sys.prefix``.
    Raises RuntimeError with the server's log if it dies or is not ready within TIMEOUT_MS.
    """
    return launch_server(
        name, argv, port=port, token=token, root=root, scratch=scratch, ready_path=ready_path
    ).wait_ready()


def _served_root(scratch: Path) -> Path:
    """Create and return the directory a server serves, inside ``scratch``."""
    root = scratch / "root"
    root.mkdir(parents=True, exist_ok=True)
    return root


def start_lab(scratch: Path) -> Server:
    """Start JupyterLab serving ``scratch/root`` with popups and update checks switched off.

    The app is exposed as ``window.jupyterapp`` so tests can run commands and read kernel state.
    """
    return launch_lab(scratch).wait_ready()


def launch_lab(scratch: Path) -> Server:
    """:func:`start_lab` without the wait: call ``wait_ready()`` on the result before use."""
    root = _served_root(scratch)
    settings = scratch / "user-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    return launch_server(
        "lab", argv, port=port, token=token, root=root, scratch=scratch, ready_path="api/status"
    )


def start_voila(scratch: Path) -> Server:
    """Start Voilà serving the notebooks of ``scratch/root`` (tree mode)."""
    return launch_voila(scratch).wait_ready()


def launch_voila(scratch: Path) -> Server:
    """:func:`start_voila` without the wait: call ``wait_ready()`` on the result before use."""
    root = _served_root(scratch)
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable, "-m", "voila",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        f"--Voila.token={token}",
        "--show_tracebacks=True",
        str(root),
    ]  # fmt: skip
    # Rendering a notebook starts a kernel: poll a static file for readiness.
    ready = "voila/static/voila.js"
    return launch_server(
        "voila", argv, port=port, token=token, root=root, scratch=scratch, ready_path=ready
    )


class ServersAhead:
    """Servers a module's tests need one each (they stop or cull them), booted ahead of use.

    ``launchers`` maps a name to a function that launches a server without waiting for it
    (:func:`launch_lab`, :func:`launch_voila`, :func:`launch_server`), in the order the tests
    take them. :meth:`launch_first` starts the first; :meth:`take` waits until the named one
    serves, then launches the next in the order, which boots while the current test runs (a
    server takes seconds to start, mostly while a test waits on a browser or a kernel).
    Not a pool: each server is handed out once. :meth:`stop` stops every one launched.
    """

    def __init__(self, launchers: dict[str, Callable[[], Server]]):
        self._launchers = dict(launchers)
        self._order = list(launchers)
        self._launched: dict[str, Server] = {}
        self._taken: set[str] = set()

    def _launch(self, name: str) -> Server:
        if name not in self._launched:
            self._launched[name] = self._launchers[name]()
        return self._launched[name]

    def launch_first(self, count: int = 1) -> None:
        """Launch the first ``count`` servers of the order (for the module's first tests that
        take one; more than one when a test must not share the machine with a booting server)."""
        for name in self._order[:count]:
            self._launch(name)

    def take(self, name: str) -> Server:
        """The server ``name``, serving; launches the next one in the order before returning."""
        if name in self._taken:
            raise RuntimeError(f"server {name!r} was already taken")
        self._taken.add(name)
        server = self._launch(name).wait_ready()
        later = self._order[self._order.index(name) + 1:]
        following = next((n for n in later if n not in self._taken), None)
        if following is not None:
            self._launch(following)
        return server

    def stop(self) -> None:
        """Stop every server launched (taken or not)."""
        for server in self._launched.values():
            server.stop()


def shutdown_kernels(server: Server) -> None:
    """Shut down every kernel the server is running."""
    server.settle()
    for kernel in server.api("GET", "api/kernels"):
        _delete_kernel(server, kernel["id"])


def _delete_kernel(server: Server, kernel_id: str) -> None:
    try:
        server.api("DELETE", f"api/kernels/{kernel_id}")
    except urllib.error.HTTPError as err:
        if err.code != 404:  # 404: it ended on its own meanwhile
            raise


def shutdown_kernels_soon(server: Server) -> None:
    """Shut down every kernel the server runs now, without waiting for them to end.

    The kernels are listed here; each ``DELETE`` (the server answers once the kernel has
    exited, about half a second each) is sent from a thread, so the next test starts
    meanwhile. :func:`open_notebook` and :func:`shutdown_kernels` wait for these shutdowns
    (``Server.settle``) before they go on, and raise any error one met.
    """
    server.settle()
    ids = [kernel["id"] for kernel in server.api("GET", "api/kernels")]
    if not ids:
        return

    def delete_all() -> None:
        for kernel_id in ids:
            try:
                _delete_kernel(server, kernel_id)
            except Exception as err:  # raised later, by Server.settle
                server._shutdown_errors.append(err)

    thread = threading.Thread(target=delete_all, name=f"shutdown-{server.name}", daemon=True)
    server._shutdowns.append(thread)
    thread.start()


@dataclass
class PageLog:
    """What a page reported: uncaught errors, console errors and the non-local requests blocked.

    Console errors about blocked requests are expected offline and are not recorded.
    """

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Page errors and console errors together."""
        return self.page_errors + self.console_errors

    def watch(self, page: Page) -> None:
        """Record ``page``'s errors here and abort its requests to anywhere but 127.0.0.1."""
        page.on("pageerror", lambda error: self.page_errors.append(f"{error.name}: {error}"))
        page.on("console", self._on_console)
        page.route(NON_LOCAL_URL, self._block)

    def _on_console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url")
        if message.type == "error" and url not in self.blocked:
            self.console_errors.append(f"{message.text} ({url})" if url else message.text)

    def _block(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        route.abort()


def _serve_copy(server: Server, notebook_path: Path | str, assets: tuple = ()) -> str:
    """Copy a notebook into a fresh folder of the server's root; return its URL path.

    ``assets``: directories (a lesson's ``images/``) copied beside it under their own names,
    so the notebook's relative links resolve.
    """
    source = Path(notebook_path)
    folder = server.root / f"{next(_copies):03d}-{source.stem}"
    folder.mkdir()
    shutil.copy2(source, folder / source.name)
    for asset in map(Path, assets):
        shutil.copytree(asset, folder / asset.name)
    return f"{folder.name}/{source.name}"


# The scripts below return null to keep waiting, or an object; {dialog} if Lab shows a dialog.
_KERNEL_IDLE_JS = """
(path) => {
  const dialog = document.querySelector('.jp-Dialog');
  if (dialog) return {dialog: dialog.innerText};
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected'
    ? {id: panel.id} : null;
}
"""

_RUN_ALL_JS = """
() => {
  window.__runAll = null;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__runAll = {ok: ok !== false}; },
    err => { window.__runAll = {ok: false, error: String(err)}; });
}
"""

_RUN_ALL_DONE_JS = """
() => {
  const dialog = document.querySelector('.jp-Dialog');
  if (dialog) return {dialog: dialog.innerText};
  const result = window.__runAll;
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.map(cell => cell.model);
  const pending = cells.some(c => c.type === 'code' && c.executionCount === null);
  if (!result || (result.ok && (pending || kernel.status !== 'idle'))) return null;
  const errors = cells.flatMap((c, i) => c.type !== 'code' ? [] : c.outputs.toJSON()
    .filter(o => o.output_type === 'error').map(o => `cell ${i}: ${o.ename}: ${o.evalue}`));
  return {...result, errors};
}
"""

_WIDGETS_STATE_JS = """
() => {
  const outputs = Array.from(document.querySelectorAll('.jp-OutputArea-output'));
  const text = o => o.textContent.trim();
  const failed = outputs.filter(o => text(o).startsWith('Error displaying widget'));
  if (failed.length) return {errors: failed.map(text)};
  const loading = outputs.some(o => o.childElementCount === 0 && text(o) === 'Loading widget...');
  return loading ? null : {errors: []};
}
"""


def wait_for_widgets(page: Page, timeout: float = TIMEOUT_MS) -> None:
    """Wait until no widget output still reads "Loading widget..."; fail on display errors."""
    state = page.wait_for_function(_WIDGETS_STATE_JS, timeout=timeout).json_value()
    if state["errors"]:
        raise AssertionError(f"widgets failed to display: {state['errors']}")


def open_notebook(
    lab_server: Server,
    page: Page,
    notebook_path: Path | str,
    timeout: float = TIMEOUT_MS,
    *,
    assets: tuple = (),
) -> Locator:
    """Open a copy of a notebook in JupyterLab, run all its cells and return the notebook panel.

    Waits for the notebook's kernel to be idle before "Run All" (sent earlier it is silently
    dropped), then until every code cell has an execution count, the kernel is idle again and
    every widget output has rendered. A cell that raises fails the call with its error, and so
    does a Lab dialog (a notebook whose metadata names no kernelspec asks for a kernel).
    ``assets``: directories copied beside the copy (a lesson's ``images/``; see ``_serve_copy``).
    """
    path = _serve_copy(lab_server, notebook_path, assets)
    # ?reset: start from an empty layout, not the one the previous test left behind.
    page.goto(lab_server.url(f"lab/tree/{path}?reset"))
    lab_server.settle()  # the previous test's kernels have ended (shutdown_kernels_soon)
    return run_all(page, path, timeout)


def run_all(page: Page, path: str, timeout: float = TIMEOUT_MS) -> Locator:
    """In a JupyterLab page showing the notebook at ``path`` (relative to the server's root),
    wait for its kernel to be idle, "Run All", wait until every code cell has run and every
    widget output has rendered, and return the notebook panel (see :func:`open_notebook`)."""
    panel = _wait_in_lab(page, _KERNEL_IDLE_JS, path, timeout)
    page.evaluate(_RUN_ALL_JS)
    result = _wait_in_lab(page, _RUN_ALL_DONE_JS, path, timeout)
    if not result["ok"] or result["errors"]:
        raise AssertionError(f"Run All failed in {path}: {result}")
    wait_for_widgets(page, timeout)
    return page.locator(f"[id='{panel['id']}']")


def _wait_in_lab(page: Page, script: str, path: str, timeout: float) -> dict:
    """Wait until ``script(path)`` returns an object; fail if JupyterLab shows a dialog instead."""
    state = page.wait_for_function(script, arg=path, timeout=timeout).json_value()
    if "dialog" in state:
        raise AssertionError(
            f"JupyterLab showed a dialog for {path} (a kernel problem? does the notebook's "
            f"metadata name an installed kernelspec?):\n{state['dialog']}"
        )
    return state


def open_voila(
    voila_server: Server,
    page: Page,
    notebook_path: Path | str,
    timeout: float = TIMEOUT_MS,
    *,
    assets: tuple = (),
) -> Locator:
    """Render a copy of a notebook with Voilà and return its cells once widgets are displayed.

    ``assets``: directories copied beside the copy (see ``_serve_copy``).
    """
    path = _serve_copy(voila_server, notebook_path, assets)
    page.goto(voila_server.url(f"voila/render/{path}"), timeout=timeout)
    voila_server.settle()  # kernels shut down by shutdown_kernels_soon have ended
    page.wait_for_function(
        """() => !document.getElementById('loading') && document.getElementById('rendered_cells')
           && !document.querySelector('script[type="application/vnd.voila.cell-output+json"]')""",
        timeout=timeout,
    )
    wait_for_widgets(page, timeout)
    # Voilà renders a cell's exception as stderr text: tell it from other stderr by its traceback.
    errors = page.locator(
        "#rendered_cells [data-mime-type='application/vnd.jupyter.stderr']",
        has_text="Traceback (most recent call last)",
    )
    if errors.count():
        details = "\n".join(errors.all_inner_texts())
        raise AssertionError(f"Voilà shows errors in {path}:\n{details}")
    return page.locator("#rendered_cells")


def line_paths(scope: Page | Locator) -> list[str]:
    """The ``d`` attribute of every bqplot Lines path inside ``scope``, in document order."""
    paths = scope.locator(".bqplot svg.svg-figure g.curve path.line")
    return paths.evaluate_all("paths => paths.map(path => path.getAttribute('d') || '')")


def widget_button(scope: Page | Locator, description: str) -> Locator:
    """The ipywidgets Button whose text is exactly ``description``."""
    exact = re.compile(rf"^\s*{re.escape(description)}\s*$")
    return scope.locator("button.widget-button").filter(has_text=exact)


def click_button(scope: Page | Locator, description: str) -> None:
    """Click the ipywidgets Button whose text is exactly ``description``."""
    widget_button(scope, description).click()


def wait_for_change(
    locator: Locator, old: str | None, *, attribute: str | None = None, timeout: float = TIMEOUT_MS
) -> str | None:
    """Poll until ``locator``'s ``attribute`` (its text if None) differs from ``old``; return it."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        remaining = max(deadline - time.monotonic(), 0.001) * 1000  # 0 would mean no timeout
        if attribute is None:
            value = locator.text_content(timeout=remaining)
        else:
            value = locator.get_attribute(attribute, timeout=remaining)
        if value != old:
            return value
        if time.monotonic() > deadline:
            what = attribute or "text"
            raise AssertionError(f"{what} of {locator} stayed {old!r} for {timeout / 1000:g} s")
        time.sleep(0.005)


def save_screenshot(target: Page | Locator, name: str) -> Path:
    """Save a PNG of a page or element as ``<name>.png`` in the screenshot directory."""
    directory = Path(os.environ.get("MARGINLOOPS_SCREENSHOTS") or SCREENSHOT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    target.screenshot(path=path)
    return path


def open_cells(
    lab_server: Server,
    page: Page,
    folder: Path,
    *sources: str,
    name: str = "cells",
    viewport: dict | None = None,
    timeout: float = TIMEOUT_MS,
) -> Locator:
    """Write a notebook of the code cells ``sources`` as ``folder/<name>.ipynb``, open it in
    JupyterLab, run it and return its panel (:func:`write_notebook` then :func:`open_notebook`).

    ``viewport``: the page's size first (``{"width": ..., "height": ...}``), for a tall
    widget that screenshots whole.
    """
    if viewport is not None:
        page.set_viewport_size(viewport)
    notebook = write_notebook(Path(folder) / f"{name}.ipynb", *sources)
    return open_notebook(lab_server, page, notebook, timeout)


def explorers(scope: Page | Locator) -> Locator:
    """The widget outputs inside ``scope`` that hold a Step button (the explorers: a
    CascadeExplorer, a CompareExplorer), in page order."""
    page = scope if isinstance(scope, Page) else scope.page
    return scope.locator(".jp-OutputArea-output").filter(
        has=page.locator("button.widget-button", has_text="Step")
    )


def wait_until(read: Callable, done: Callable, what: str, timeout_s: float = 30.0):
    """Poll ``read()`` until ``done(value)`` holds and return that value; fail naming ``what``
    and the last value after ``timeout_s`` seconds. ``read`` should re-resolve its locators."""
    deadline = time.monotonic() + timeout_s
    while not done(value := read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout_s:g} s")
        time.sleep(0.02)
    return value
