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
import time
import urllib.error
import urllib.request
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

    ``root`` is the directory it serves; ``log_path`` holds its stdout and stderr.
    """

    name: str
    process: subprocess.Popen
    base_url: str
    token: str
    root: Path
    log_path: Path

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

    def stop(self, timeout: float = 15) -> None:
        """Terminate the server's process group (it shuts its kernels down), then reap it."""
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


def start_server(
    name: str, argv: list[str], *, port: int, token: str, root: Path, scratch: Path, ready_path: str
) -> Server:
    """Start ``argv`` in its own process group and wait until ``ready_path`` answers 200.

    Jupyter's user config and runtime files go to ``scratch`` so nothing from the machine's
    ``~/.jupyter`` leaks in; installed lab extensions are still found under ``sys.prefix``.
    Raises RuntimeError with the server's log if it dies or is not ready within TIMEOUT_MS.
    """
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        IPYTHONDIR=str(scratch / "ipython"),
    )
    log_path = scratch / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", token, root, log_path)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with code {process.returncode} before it was ready; "
                f"log:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url(ready_path), timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} in time; log:\n{server.log_tail()}")


def _served_root(scratch: Path) -> Path:
    """Create and return the directory a server serves, inside ``scratch``."""
    root = scratch / "root"
    root.mkdir(parents=True, exist_ok=True)
    return root


def start_lab(scratch: Path) -> Server:
    """Start JupyterLab serving ``scratch/root`` with popups and update checks switched off.

    The app is exposed as ``window.jupyterapp`` so tests can run commands and read kernel state.
    """
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
    return start_server(
        "lab", argv, port=port, token=token, root=root, scratch=scratch, ready_path="api/status"
    )


def start_voila(scratch: Path) -> Server:
    """Start Voilà serving the notebooks of ``scratch/root`` (tree mode)."""
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
    return start_server(
        "voila", argv, port=port, token=token, root=root, scratch=scratch, ready_path=ready
    )


def shutdown_kernels(server: Server) -> None:
    """Shut down every kernel the server is running."""
    for kernel in server.api("GET", "api/kernels"):
        try:
            server.api("DELETE", f"api/kernels/{kernel['id']}")
        except urllib.error.HTTPError as err:
            if err.code != 404:  # 404: it ended on its own meanwhile
                raise


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
