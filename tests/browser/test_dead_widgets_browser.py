"""Dead widgets in a real JupyterLab and Voilà: after the kernel goes, an explorer says so.

Issue 10, item 1. What JupyterLab 4.6 + ipywidgets 8.1 + Voilà 0.5 do, seen here:

- kernel restart (Lab), or a kernel that dies under Voilà (its server starts a new one): the
  widget manager marks every view ``jupyter-widgets-disconnected`` (on its own a red
  broken-chain icon before each widget, no word); the stylesheet every explorer carries
  (:mod:`marginloops.ui.style`) turns that into one sentence over greyed-out controls;
- kernel shut down or culled in Lab: nothing is marked on the widgets, but the notebook
  toolbar's execution indicator reads ``data-status="disconnected"`` once Lab's poll notices
  (about 10 s): the same stylesheet keys on it;
- page reload: with Lab's default settings the output reads "Error displaying widget: model
  not found" (after a restart always; with the kernel alive only sometimes: seen 2 times in 4)
  and our stylesheet is not on the page (it lived in the widget). The package therefore ships
  the widget manager's ``saveState`` on (a settings override installed with it): the views
  saved with the notebook come back, dead, with the sentence;
- kernel shut down or culled in Voilà, or its server stopped: Voilà marks nothing at all (no DOM
  mutation in 100-140 s, seen with a MutationObserver on the whole document; a click on Step
  changed only a caret colour). The package's Voilà template (``style.voila_template_files``)
  asks the server about the kernel at a click or key inside an explorer and when the page is
  shown again, and marks ``<body>``; the tests below install a scratch copy of it.

Servers: the session's JupyterLab and Voilà where nothing happens to the server; one Voilà
with the template shared by the template's cases that leave the server running; a private
server (booted while the tests before it run: ``labtools.ServersAhead``) for each case that
stops its server or sets the server's culling, but the Lab one that is stopped first (started
in its test).
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import labtools
import pytest
from labtools import open_notebook, open_voila, save_screenshot, write_notebook

from marginloops.ui import style

CELL = "from marginloops import CascadeExplorer\nCascadeExplorer()"

# The first explorer's dead-widget state as the page shows it: the sentence (the root's
# ::before), whether it is displayed and where, and what a click at Step's centre would hit.
_DEAD_JS = """
(rootClass) => {
  const root = document.querySelector('.' + rootClass);
  if (!root) return null;
  const before = getComputedStyle(root, '::before');
  const step = Array.from(root.querySelectorAll('button.widget-button'))
    .find(b => b.textContent.trim() === 'Step');
  const r = step.getBoundingClientRect();
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  let opacity = 1;  // Step's opacity as drawn: the product over its ancestors
  for (let el = step; el && el !== root; el = el.parentElement) {
    opacity *= Number(getComputedStyle(el).opacity);
  }
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {content: before.content, display: before.display, opacity: before.opacity,
          kernelIndicator: indicator ? indicator.dataset.status : null,
          background: before.backgroundColor, stepOpacity: opacity,
          clickHitsStep: !!(hit && step.contains(hit)),
          clickHitsRoot: !!(hit && root.contains(hit)),
          round: (root.textContent.match(/Round (\\d+|–)/) || [])[1]};
}
"""

SENTENCE = '"' + style.DEAD_SENTENCE + '"'
VOILA_SENTENCE = '"' + style.DEAD_SENTENCE_VOILA + '"'
UNREACHABLE_SENTENCE = '"' + style.DEAD_SENTENCE_UNREACHABLE + '"'


def dead_state(page):
    return page.evaluate(_DEAD_JS, style.ROOT_CLASS)


def wait_dead(page, timeout_s=60.0, sentence=SENTENCE):
    """Poll until the first explorer shows the dead-widget sentence; return its state."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = dead_state(page)
        if (state and state["content"] == sentence and state["display"] == "block"
                and state["opacity"] == "1"):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"no dead-widget sentence after {timeout_s:g} s: {state}")
        time.sleep(0.05)


def click_step_like_a_student(page, name):
    """A mouse click where the Step button is (a Playwright ``click()`` would refuse: the dead
    button takes no pointer events); return the state while the button is held down."""
    step = page.locator(f".{style.ROOT_CLASS} button.widget-button", has_text="Step").first
    box = step.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    pressed = dead_state(page)
    save_screenshot(page, f"dead-{name}-pressed")
    page.mouse.up()
    return pressed


def check_dead_explorer(page, name, sentence=SENTENCE):
    state = wait_dead(page, sentence=sentence)
    assert state["stepOpacity"] < 0.5, state  # the controls are greyed out
    assert not state["clickHitsStep"] and state["clickHitsRoot"], state
    save_screenshot(page, f"dead-{name}")
    pressed = click_step_like_a_student(page, name)
    # While pressed the sentence flashes (dark background): the click is answered, in words.
    assert pressed["content"] == sentence and pressed["background"] == "rgb(179, 79, 0)", pressed
    time.sleep(1.0)
    after = wait_dead(page, timeout_s=5, sentence=sentence)
    assert after["round"] == state["round"], (state, after)  # and nothing else happened
    save_screenshot(page, f"dead-{name}-after-click")


@pytest.fixture
def explorer_notebook(tmp_path):
    return write_notebook(tmp_path / "dead-widgets.ipynb", CELL)


#: Voilà's own idle culling, as a deployment that culls would set it.
CULL_OPTIONS = ("--MappingKernelManager.cull_idle_timeout=15",
                "--MappingKernelManager.cull_interval=2",
                "--MappingKernelManager.cull_connected=True")


@pytest.fixture(scope="module", autouse=True)
def private_servers(tmp_path_factory):
    """The servers a test stops or culls: one each, launched in the order the tests take them,
    each booting while the tests before it run; the shared template Voilà among them."""
    scratch = tmp_path_factory.mktemp("dead-widgets-servers")
    servers = labtools.ServersAhead({
        "voila-template": lambda: launch_voila_with_template(scratch / "voila-template"),
        "voila-cull": lambda: launch_voila_with_template(scratch / "voila-cull", *CULL_OPTIONS),
        "voila-stop": lambda: launch_voila_with_template(scratch / "voila-stop"),
        "lab-voila": lambda: labtools.launch_lab(scratch / "lab-voila"),
    })
    servers.launch_first()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def template_voila(private_servers):
    """One Voilà with the package's template, shared by the cases that leave the server
    running (each renders its own copy of the notebook, with its own kernel)."""
    return private_servers.take("voila-template")


def test_live_explorer_shows_no_sentence(lab_server, page, explorer_notebook):
    open_notebook(lab_server, page, explorer_notebook)
    state = dead_state(page)
    assert state["content"] == "none" and state["clickHitsStep"], state


def test_kernel_restart_leaves_a_sentence_and_a_click_shows_it(lab_server, page,
                                                                explorer_notebook):
    open_notebook(lab_server, page, explorer_notebook)
    # What Kernel ▸ Restart Kernel does once its dialog is confirmed.
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                  ".kernel.restart()")
    check_dead_explorer(page, "lab-restart")


def test_kernel_shut_down_leaves_a_sentence(lab_server, page, explorer_notebook):
    """Binder's idle stop and Kernel ▸ Shut Down end the kernel without a restart."""
    open_notebook(lab_server, page, explorer_notebook)
    for kernel in lab_server.api("GET", "api/kernels"):
        lab_server.api("DELETE", f"api/kernels/{kernel['id']}")
    check_dead_explorer(page, "lab-shutdown")


def test_the_environment_saves_widget_state_with_the_notebook(lab_server):
    """The package's settings override (jupyter-config/lab/settings/overrides.d) switches the
    widget manager's ``saveState`` on, as Lab serves it: the schema's default, which the
    extension's own ``plugin.json`` sets to false, reads true, and no user setting is involved."""
    plugin = "@jupyter-widgets/jupyterlab-manager:plugin"
    shipped = (Path(sys.prefix) / "share/jupyter/labextensions" / plugin.split(":")[0]
               / "schemas" / plugin.split(":")[0] / "plugin.json")
    assert json.loads(shipped.read_text())["properties"]["saveState"]["default"] is False
    settings = lab_server.api("GET", f"lab/api/settings/{plugin}")
    assert settings["schema"]["properties"]["saveState"]["default"] is True
    assert "saveState" not in json.loads(settings["raw"] or "{}")


def restart_then_reload(server, page, notebook):
    """Run the notebook, save it (as Lab's autosave does every 2 minutes), restart the kernel,
    then reload the page; wait until the widget output has left "Loading widget..."."""
    open_notebook(server, page, notebook)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                  ".kernel.restart()")
    wait_dead(page)
    page.reload()
    page.wait_for_function("""() => {
      const out = document.querySelector('.jp-OutputArea-output');
      return out && !out.textContent.includes('Loading widget');
    }""")


def test_reload_after_restart_leaves_a_sentence(lab_server, page, explorer_notebook):
    """With the saveState the environment ships, the reloaded page draws the saved explorer,
    dead, with its sentence, and never "Error displaying widget: model not found"."""
    restart_then_reload(lab_server, page, explorer_notebook)
    saved = next(lab_server.root.glob(f"*/{explorer_notebook.name}"))
    print(f"notebook with saved widget state: {saved.stat().st_size / 1000:.0f} kB")
    check_dead_explorer(page, "lab-reload-after-restart")
    assert "model not found" not in page.locator(".jp-Notebook").text_content()
    labtools.shutdown_kernels(lab_server)


def test_reload_with_the_kernel_alive_gives_back_a_live_explorer(lab_server, page,
                                                                 explorer_notebook):
    """A reload while the kernel lives (a student pressing F5): the explorer comes back live,
    every time (with Lab's defaults it came back 2 times in 4), and Step still steps."""
    open_notebook(lab_server, page, explorer_notebook)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    rounds = []
    for attempt in range(4):
        page.reload()
        page.wait_for_function("""() => {
          const out = document.querySelector('.jp-OutputArea-output');
          return out && !out.textContent.includes('Loading widget')
                 && (out.textContent.includes('model not found')
                     || !!out.querySelector('button.widget-button'));
        }""", timeout=60_000)
        assert "model not found" not in page.locator(".jp-Notebook").text_content(), attempt
        state = dead_state(page)
        assert state["content"] == "none", (attempt, state)
        step = page.locator(f".{style.ROOT_CLASS} button.widget-button", has_text="Step").first
        before = state["round"]
        step.click()
        deadline = time.monotonic() + 30
        while dead_state(page)["round"] == before:
            assert time.monotonic() < deadline, f"reload {attempt}: Step did nothing"
            time.sleep(0.1)
        rounds.append((before, dead_state(page)["round"]))
    print(f"rounds before -> after one Step, per reload: {rounds}")
    save_screenshot(page, "lab-reload-kernel-alive")
    labtools.shutdown_kernels(lab_server)


def kill_voila_kernel(voila_server, page):
    """SIGKILL the kernel behind the Voilà page (found by the id in the page's config among the
    server's own child processes), as a crash or an out-of-memory kill would end it."""
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    kernel_id = config["kernelId"]
    children = subprocess.run(["pgrep", "-P", str(voila_server.process.pid)],
                              capture_output=True, text=True, check=False).stdout.split()
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        if kernel_id in cmdline:
            os.kill(int(pid), signal.SIGKILL)
            return
    raise AssertionError(f"no child process of the Voilà server runs kernel {kernel_id}")


def test_voila_kernel_death_leaves_a_sentence_saying_reload(voila_server, page,
                                                             explorer_notebook):
    """Voilà restarts a dead kernel (a new one, without the widgets): its widget manager marks
    the views disconnected, and the sentence says what works there (a reload)."""
    open_voila(voila_server, page, explorer_notebook)
    assert dead_state(page)["content"] == "none"
    kill_voila_kernel(voila_server, page)
    check_dead_explorer(page, "voila-kernel-killed", sentence=VOILA_SENTENCE)


def test_server_stopped_leaves_a_sentence_after_a_delay(tmp_path, page, explorer_notebook):
    """Binder's idle stop ends the whole server: Lab's indicator then reads "connecting" for
    good, and after style.UNREACHABLE_DELAY_S seconds the explorer says it is dead."""
    # Started here, not ahead: with a Lab booted ahead (long idle) the "Server Connection
    # Error" dialog covered Step before the check below twice in four runs.
    server = labtools.start_lab(tmp_path / "lab-to-stop")
    try:
        open_notebook(server, page, explorer_notebook)
        server.stop()
        page.wait_for_function(
            "() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
            ".dataset.status === 'connecting'")
        connecting = time.monotonic()
        early = dead_state(page)
        assert early["opacity"] == "0", early  # a blip says nothing
        # Nothing of ours covers Step; Lab's own "Server Connection Error" dialog may already
        # (on a loaded machine its first failed poll can come before this check).
        assert early["clickHitsStep"] or page.locator(".jp-Dialog").count(), early
        # JupyterLab says "Server Connection Error" in a dialog; once it is closed, the
        # explorer still says what happened, at its place.
        # (Lab shows it again at each failed poll unless told not to.)
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_role("checkbox").check()
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="detached")
        check_dead_explorer(page, "lab-server-stopped", sentence=UNREACHABLE_SENTENCE)
        assert time.monotonic() - connecting >= style.UNREACHABLE_DELAY_S - 1
    finally:
        server.stop()


# ----------------------------------------------- Voilà: kernel shut down or culled, server gone
# Voilà itself marks nothing in these cases (style.VOILA_KERNEL_ATTR says what was inspected);
# the package's Voilà template asks the server about the kernel at a student's click.

UNREACHABLE_VOILA_SENTENCE = '"' + style.DEAD_SENTENCE_UNREACHABLE_VOILA + '"'


def start_voila_with_template(scratch, *options):
    """A Voilà server whose default template is the package's (written from
    ``style.voila_template_files()`` into a data dir on ``JUPYTER_PATH``), with ``options``."""
    return launch_voila_with_template(scratch, *options).wait_ready()


def launch_voila_with_template(scratch, *options):
    """:func:`start_voila_with_template` without the wait (``wait_ready()`` it before use)."""
    data = scratch / "share"
    template = data / "voila" / "templates" / style.VOILA_TEMPLATE
    template.mkdir(parents=True)
    for name, text in style.voila_template_files().items():
        (template / name).write_text(text)
    root = scratch / "root"
    root.mkdir()
    port, token = labtools.free_port(), os.urandom(16).hex()
    argv = [sys.executable, "-m", "voila", "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", f"--Voila.token={token}",
            "--show_tracebacks=True", f"--template={style.VOILA_TEMPLATE}", *options, str(root)]
    return labtools.launch_server("voila", argv, port=port, token=token, root=root,
                                  scratch=scratch, ready_path="voila/static/voila.js",
                                  env={"JUPYTER_PATH": str(data)})


def page_kernel_id(page):
    return json.loads(page.locator("#jupyter-config-data").text_content())["kernelId"]


def kernel_answers(server, kernel_id):
    """What the server says about the kernel: True (it runs), False (404) or None (no server)."""
    try:
        server.api("GET", f"api/kernels/{kernel_id}")
        return True
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise
    except (urllib.error.URLError, ConnectionError):
        return None


def still_looks_live(page, seconds=2.0):
    """Voilà on its own: the explorer keeps its live look (no sentence, Step clickable)."""
    page.wait_for_timeout(seconds * 1000)
    state = dead_state(page)
    assert state["content"] == "none" and state["clickHitsStep"], state
    assert page.evaluate(f"() => document.body.getAttribute('{style.VOILA_KERNEL_ATTR}')") is None


@pytest.fixture
def kernel_checks(page):
    """The status of every answer to the template's ``GET api/kernels/<id>``, in order."""
    seen = []
    page.on("response", lambda r: seen.append(r.status) if "/api/kernels/" in r.url
            and "no_track_activity" in r.url else None)
    return seen


def test_voila_template_keeps_a_live_explorer_live(template_voila, page, explorer_notebook,
                                                   kernel_checks):
    """With the kernel alive the template's check answers 200 and marks nothing; Step steps."""
    open_voila(template_voila, page, explorer_notebook)
    before = dead_state(page)["round"]
    page.locator(f".{style.ROOT_CLASS} button.widget-button", has_text="Step").first.click()
    deadline = time.monotonic() + 30
    while dead_state(page)["round"] == before or not kernel_checks:
        assert time.monotonic() < deadline, (before, kernel_checks)
        time.sleep(0.1)
    still_looks_live(page, 1.0)
    assert kernel_checks == [200], kernel_checks


def test_voila_kernel_shut_down_leaves_a_sentence_saying_reload(template_voila, page,
                                                                 explorer_notebook):
    """DELETE /api/kernels/<id> (what a shutdown does): Voilà shows nothing; at the student's
    first click the template's check gets a 404 and the explorer says to reload."""
    server = template_voila
    open_voila(server, page, explorer_notebook)
    kernel_id = page_kernel_id(page)
    server.api("DELETE", f"api/kernels/{kernel_id}")
    assert kernel_answers(server, kernel_id) is False
    still_looks_live(page)
    save_screenshot(page, "dead-voila-shutdown-before-click")
    click_step_like_a_student(page, "voila-shutdown-first")
    check_dead_explorer(page, "voila-shutdown", sentence=VOILA_SENTENCE)


def test_voila_kernel_culled_leaves_a_sentence_saying_reload(private_servers, page,
                                                             explorer_notebook):
    """Voilà's own idle culling (cull_connected, as a deployment that culls would set it:
    :data:`CULL_OPTIONS`)."""
    server = private_servers.take("voila-cull")
    try:
        open_voila(server, page, explorer_notebook)
        assert dead_state(page)["content"] == "none"
        kernel_id = page_kernel_id(page)
        deadline = time.monotonic() + 60
        while kernel_answers(server, kernel_id):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.25)
        assert "Culling 'idle' kernel" in server.log_tail()
        still_looks_live(page)
        # A student coming back to the tab (the page shown again): the sentence is there
        # before any click.
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        wait_dead(page, timeout_s=10, sentence=VOILA_SENTENCE)
        check_dead_explorer(page, "voila-culled", sentence=VOILA_SENTENCE)
    finally:
        server.stop()


def test_voila_server_stopped_leaves_a_sentence_saying_open_the_link(private_servers, page,
                                                                       explorer_notebook):
    """Binder's idle stop ends the server: the check gets no answer twice, VOILA_RETRY_S
    seconds apart (a blip is not enough), then the explorer says to open the link again."""
    server = private_servers.take("voila-stop")
    try:
        open_voila(server, page, explorer_notebook)
        kernel_id = page_kernel_id(page)
        server.stop()
        assert kernel_answers(server, kernel_id) is None
        still_looks_live(page)
        clicked = time.monotonic()
        click_step_like_a_student(page, "voila-server-stopped-first")
        early = dead_state(page)
        assert early["content"] == "none", early  # one unanswered request says nothing yet
        check_dead_explorer(page, "voila-server-stopped", sentence=UNREACHABLE_VOILA_SENTENCE)
        assert time.monotonic() - clicked >= style.VOILA_RETRY_S - 0.5
    finally:
        server.stop()


def answer_with(reply):
    """A route handler that answers every request with ``reply`` (Route.fulfill's keywords)."""
    return lambda route: route.fulfill(**reply)


def test_voila_network_blip_says_nothing_and_a_mark_goes_once_the_server_answers(
        template_voila, page, explorer_notebook, kernel_checks):
    """The template's check on a flaky network: one request lost says nothing; no answer twice
    marks the server gone, and the next click that gets an answer takes the sentence away."""
    server = template_voila
    open_voila(server, page, explorer_notebook)
    check = "**/api/kernels/*?no_track_activity=1"
    lost = []

    def lose_first(route):
        if lost:
            route.continue_()
        else:
            lost.append(route.request.url)
            route.abort()

    page.route(check, lose_first)
    page.locator(f".{style.ROOT_CLASS}").get_by_text("Before the shock").first.click()
    # (page.wait_for_timeout, not time.sleep: Playwright's sync API runs the route handler
    # and records responses only while a call of its own waits)
    page.wait_for_timeout((style.VOILA_RETRY_S + 2) * 1000)
    assert lost and kernel_checks == [200], (lost, kernel_checks)
    still_looks_live(page, 0)
    page.unroute(check)

    page.route(check, lambda route: route.abort())
    page.locator(f".{style.ROOT_CLASS} .widget-text input").first.focus()
    page.keyboard.press("Shift")  # a key pressed inside an explorer counts too
    wait_dead(page, timeout_s=style.VOILA_RETRY_S + 10, sentence=UNREACHABLE_VOILA_SENTENCE)
    save_screenshot(page, "dead-voila-blip-unreachable")
    page.unroute(check)
    box = page.locator(f".{style.ROOT_CLASS}").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 20)  # on the sentence
    deadline = time.monotonic() + 10
    while dead_state(page)["content"] != "none":
        assert time.monotonic() < deadline, (dead_state(page), kernel_checks)
        time.sleep(0.1)
    still_looks_live(page, 0)
    assert kernel_checks == [200, 200], kernel_checks
    save_screenshot(page, "dead-voila-blip-recovered")

    # Behind JupyterHub (Binder) the hub answers for a server that no longer runs: 424 to
    # an API request (jupyterhub/jupyterhub#3636), or its own HTML page.
    for reply in ({"status": 424, "json": {"message": "server not running"}},
                  {"status": 200, "content_type": "text/html", "body": "<html>hub</html>"}):
        page.route(check, answer_with(reply))
        page.locator(f".{style.ROOT_CLASS}").get_by_text("Before the shock").first.click()
        wait_dead(page, timeout_s=style.VOILA_RETRY_S + 10,
                  sentence=UNREACHABLE_VOILA_SENTENCE)
        page.unroute(check)
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 20)
        page.wait_for_function(
            f"() => !document.body.hasAttribute('{style.VOILA_KERNEL_ATTR}')")


def test_voila_template_script_holds_no_jinja_markup():
    """The script sits inside a Jinja template: "{{", "{%" or "{#" in it would be read as
    template markup."""
    assert not any(mark in style.VOILA_WATCH_JS for mark in ("{{", "{%", "{#"))
    index = style.voila_template_files()["index.html.j2"]
    assert f"<script>{style.VOILA_WATCH_JS}</script>" in index


def test_voila_in_a_jupyter_server_as_on_binder(private_servers, page, explorer_notebook):
    """Binder serves Voilà from the Jupyter server (``/voila/render/...``, the server
    extension), the package's template being the default there (``etc/jupyter/voila.json``,
    installed with the package; the template in ``share/jupyter/voila/templates``):
    a plain link gets the template; a kernel shut down says to reload, and the server stopped
    after it says to open the link again."""
    server = private_servers.take("lab-voila")
    try:
        (server.root / explorer_notebook.name).write_bytes(explorer_notebook.read_bytes())
        page.goto(server.url(f"voila/render/{explorer_notebook.name}"))
        page.wait_for_function("() => !document.getElementById('loading')"
                               " && document.getElementById('rendered_cells')"
                               " && document.querySelector('.marginloops button.widget-button')",
                               timeout=labtools.TIMEOUT_MS)
        labtools.wait_for_widgets(page)
        assert f"<script>{style.VOILA_WATCH_JS}</script>" in page.content()
        kernel_id = page_kernel_id(page)
        server.api("DELETE", f"api/kernels/{kernel_id}")
        still_looks_live(page)
        click_step_like_a_student(page, "voila-extension-shutdown-first")
        check_dead_explorer(page, "voila-extension-shutdown", sentence=VOILA_SENTENCE)
        server.stop()
        box = page.locator(f".{style.ROOT_CLASS}").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 20)  # on the sentence
        check_dead_explorer(page, "voila-extension-server-stopped",
                            sentence=UNREACHABLE_VOILA_SENTENCE)
    finally:
        server.stop()
