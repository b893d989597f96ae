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
  and our stylesheet is not on the page (it lived in the widget); with the widget manager's
  ``saveState`` on, the views saved with the notebook come back, dead, with the sentence.
"""

import json
import os
import signal
import subprocess
import time
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
          round: (root.textContent.match(/Round (\\S+)/) || [])[1]};
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
        time.sleep(0.2)


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


#: The setting that makes JupyterLab store widget state in the notebook when it saves it
#: (@jupyter-widgets/jupyterlab-manager's schema ``plugin.json``, "saveState", default false),
#: so that a reload can draw the saved views (``restoreWidgets`` -> ``_loadFromNotebook``).
SAVE_STATE = {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}


@pytest.fixture(scope="module")
def save_state_lab(tmp_path_factory):
    """A JupyterLab whose user settings switch widget-state saving on."""
    scratch = tmp_path_factory.mktemp("lab-save-state")
    for plugin, values in SAVE_STATE.items():
        package, name = plugin.split(":")
        folder = scratch / "user-settings" / package
        folder.mkdir(parents=True)
        (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    server = labtools.start_lab(scratch)
    yield server
    server.stop()


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


@pytest.mark.xfail(strict=True, reason=(
    "with JupyterLab's default settings a reload shows 'Error displaying widget: model not "
    "found' and the explorer's stylesheet is not on the page: the environment must ship "
    "saveState (see test_reload_after_restart_with_saved_state_leaves_a_sentence)"))
def test_reload_after_restart_leaves_a_sentence(lab_server, page, explorer_notebook):
    restart_then_reload(lab_server, page, explorer_notebook)
    save_screenshot(page, "dead-lab-reload-after-restart")
    wait_dead(page, timeout_s=10)


def test_reload_after_restart_with_saved_state_leaves_a_sentence(save_state_lab, page,
                                                                 explorer_notebook):
    """With saveState on, the reloaded page draws the saved explorer, dead, with its sentence."""
    restart_then_reload(save_state_lab, page, explorer_notebook)
    saved = next(save_state_lab.root.glob(f"*/{explorer_notebook.name}"))
    print(f"notebook with saved widget state: {saved.stat().st_size / 1000:.0f} kB")
    check_dead_explorer(page, "lab-reload-after-restart-saved-state")
    labtools.shutdown_kernels(save_state_lab)


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
    server = labtools.start_lab(tmp_path / "lab-to-stop")
    try:
        open_notebook(server, page, explorer_notebook)
        server.stop()
        page.wait_for_function(
            "() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
            ".dataset.status === 'connecting'")
        connecting = time.monotonic()
        early = dead_state(page)
        assert early["opacity"] == "0" and early["clickHitsStep"], early  # a blip says nothing
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
