"""Dead widgets in a real JupyterLab: after a kernel restart or shutdown an explorer says so.

Issue 10, item 1. What JupyterLab 4.6 + ipywidgets 8.1 do, seen here:

- kernel restart: the widget manager marks every view ``jupyter-widgets-disconnected`` (on its
  own a red broken-chain icon before each widget, no word); the stylesheet every explorer
  carries (:mod:`marginloops.ui.style`) turns that into one sentence over greyed-out controls;
- kernel shut down or culled (Binder's idle stop): nothing is marked on the widgets, but the
  notebook toolbar's execution indicator reads ``data-status="disconnected"`` once Lab's poll
  notices (about 10 s): the same stylesheet keys on it;
- page reload: the output shows "Error displaying widget: model not found", our stylesheet is
  not on the page (it lived in the widget), so nothing in the package can replace that line:
  see the xfail test below and the report of issue 10.
"""

import time

import pytest
from labtools import open_notebook, save_screenshot, write_notebook

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
  return {content: before.content, display: before.display,
          background: before.backgroundColor, stepOpacity: opacity,
          clickHitsStep: !!(hit && step.contains(hit)),
          clickHitsRoot: !!(hit && root.contains(hit)),
          round: (root.textContent.match(/Round (\\S+)/) || [])[1]};
}
"""

SENTENCE = '"' + style.DEAD_SENTENCE + '"'


def dead_state(page):
    return page.evaluate(_DEAD_JS, style.ROOT_CLASS)


def wait_dead(page, timeout_s=60.0):
    """Poll until the first explorer shows the dead-widget sentence; return its state."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = dead_state(page)
        if state and state["content"] == SENTENCE and state["display"] == "block":
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"no dead-widget sentence after {timeout_s:g} s: {state}")
        time.sleep(0.2)


def click_step_like_a_student(page):
    """A mouse click where the Step button is (a Playwright ``click()`` would refuse: the dead
    button takes no pointer events); return the state while the button is held down."""
    step = page.locator(f".{style.ROOT_CLASS} button.widget-button", has_text="Step").first
    box = step.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    pressed = dead_state(page)
    page.mouse.up()
    return pressed


def check_dead_explorer(page, name):
    state = wait_dead(page)
    assert state["stepOpacity"] < 0.5, state  # the controls are greyed out
    assert not state["clickHitsStep"] and state["clickHitsRoot"], state
    save_screenshot(page, f"dead-{name}")
    pressed = click_step_like_a_student(page)
    # While pressed the sentence flashes (dark background): the click is answered, in words.
    assert pressed["content"] == SENTENCE and pressed["background"] == "rgb(179, 79, 0)", pressed
    time.sleep(1.0)
    after = wait_dead(page, timeout_s=5)
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


@pytest.mark.xfail(strict=True, reason=(
    "after a reload JupyterLab shows 'Error displaying widget: model not found' and the "
    "explorer's stylesheet is not on the page: replacing that line needs a setting shipped "
    "with the environment (issue 10, item 1, report)"))
def test_reload_after_restart_leaves_a_sentence(lab_server, page, explorer_notebook):
    open_notebook(lab_server, page, explorer_notebook)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                  ".kernel.restart()")
    wait_dead(page)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    time.sleep(2)
    page.reload()
    output = page.locator(".jp-OutputArea-output").first
    deadline = time.monotonic() + 60
    while "Loading" in (output.text_content() or "Loading") and time.monotonic() < deadline:
        time.sleep(0.5)
    save_screenshot(page, "dead-lab-reload-after-restart")
    wait_dead(page, timeout_s=10)

