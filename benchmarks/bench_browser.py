"""The browser path of a Step: click -> charts settled, against a one-line bqplot demo.

Issue 11's measurement, kept as a benchmark. In one run, in headless Debian Chromium, for
JupyterLab and for Voilà:

- the explorer (``CascadeExplorer(Scenario.preset('crowded-longs'))``): a MutationObserver on
  every bqplot figure of the explorer; for each click on Step, the time from the click to the
  first mutation (first chart changed) and to the last one (settled: no mutation for
  ``--quiet-ms`` afterwards); Reset when the run ends (Reset clicks are not measured);
- the demo: one ``bqplot.Lines`` mark of 11 points whose ``y`` a button sets, measured the same
  way: the floor a widget round trip and one redraw cost on this machine;
- the five-chart demo: five such charts, the explorer's size and grid, all set by one click:
  the floor of five charts redrawn and painted at once (the explorer's figure count);
- the explorer's figures' DOM mutations per click, by figure;
- the kernel side: a Step's time in the kernel (``step_button.click()``, model step and widget
  updates sent), median and range, and the model's own ``Cascade.step``.

It prints medians and the ratios explorer / demo (issue 11's goal: settled within 1.5x the demo,
a kernel Step within 10 ms). It always exits 0: a benchmark, not a test. About 2-4 minutes.

    .venv/bin/python benchmarks/bench_browser.py [--clicks 42] [--apps lab,voila]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

import labtools  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

EXPLORER = ("from marginloops import CascadeExplorer, Scenario\n"
            "explorer = CascadeExplorer(Scenario.preset('crowded-longs'))\n"
            "explorer")
DEMO = ("import bqplot as bq, ipywidgets as w, numpy as np\n"
        "x = np.arange(11.0)\n"
        "sx, sy = bq.LinearScale(), bq.LinearScale(min=0, max=1)\n"
        "line = bq.Lines(x=x, y=np.zeros(11), scales={'x': sx, 'y': sy})\n"
        "fig = bq.Figure(marks=[line], axes=[bq.Axis(scale=sx), bq.Axis(scale=sy, "
        "orientation='vertical')], title='demo')\n"
        "button = w.Button(description='Step')\n"
        "rng = np.random.default_rng(0)\n"
        "def on_click(_):\n"
        "    line.y = rng.random(11)\n"
        "button.on_click(on_click)\n"
        "w.VBox([button, fig])")
#: Five one-line charts in the explorer's grid (two per row, the explorer's figure size), all
#: five set by one click: the floor of five charts' round trip, redraw and paint on this
#: machine, which the one-line demo does not pay.
DEMO5 = ("import bqplot as bq, ipywidgets as w, numpy as np\n"
         "from marginloops.ui import style\n"
         "x = np.arange(11.0)\n"
         "rng = np.random.default_rng(0)\n"
         "lines, figs = [], []\n"
         "for k in range(5):\n"
         "    sx, sy = bq.LinearScale(), bq.LinearScale(min=0, max=1)\n"
         "    lines.append(bq.Lines(x=x, y=np.zeros(11), scales={'x': sx, 'y': sy}))\n"
         "    figs.append(bq.Figure(marks=[lines[-1]], axes=[bq.Axis(scale=sx), "
         "bq.Axis(scale=sy, orientation='vertical')], title=f'demo {k}', "
         "layout=dict(style.FIG_LAYOUT)))\n"
         "button = w.Button(description='Step')\n"
         "def on_click(_):\n"
         "    for line in lines:\n"
         "        line.y = rng.random(11)\n"
         "button.on_click(on_click)\n"
         "w.VBox([button, w.GridBox(figs, layout=w.Layout("
         "grid_template_columns='1fr 1fr'))])")
KERNEL_TIMING = """
import time, statistics
from marginloops import Scenario
explorer.time.reset_button.click()
ms = []
for _ in range(40):
    if explorer.cascade.ended:
        explorer.time.reset_button.click()
    t = time.perf_counter()
    explorer.time.step_button.click()
    ms.append((time.perf_counter() - t) * 1e3)
model = []
cas = Scenario.preset('crowded-longs').cascade()
for _ in range(40):
    if cas.ended:
        cas.reset()
    t = time.perf_counter()
    cas.step()
    model.append((time.perf_counter() - t) * 1e3)
med = statistics.median
print(f"KERNEL {med(ms):.2f} {min(ms):.2f} {max(ms):.2f} {med(model):.3f}")
"""

# Install the observer once per page: every figure under ``root``; each click resets the log.
_OBSERVE_JS = """
(root) => {
  const figures = Array.from(root.querySelectorAll('.bqplot'));
  window.__log = [];
  const observer = new MutationObserver(records => {
    const now = performance.now();
    for (const r of records) {
      const fig = r.target.closest && r.target.closest('.bqplot');
      const title = fig ? (fig.querySelector('.mainheading') || {}).textContent || '?' : '?';
      window.__log.push([now, title]);
    }
  });
  figures.forEach(f => observer.observe(f, {subtree: true, attributes: true, childList: true,
                                              characterData: true}));
  return figures.length;
}
"""
_CLICK_JS = """
(root, quietMs) => new Promise((resolve, reject) => {
  const step = Array.from(root.querySelectorAll('button.widget-button'))
    .find(b => b.textContent.trim() === 'Step');
  window.__log = [];
  const start = performance.now();
  step.click();
  const poll = () => {
    const log = window.__log;
    const now = performance.now();
    if (log.length && now - log[log.length - 1][0] > quietMs) {
      const counts = {};
      log.forEach(([, t]) => { counts[t] = (counts[t] || 0) + 1; });
      resolve({first: log[0][0] - start, last: log[log.length - 1][0] - start, counts});
    } else if (now - start > 15000) reject('no redraw within 15 s');
    else setTimeout(poll, 5);
  };
  setTimeout(poll, 5);
})
"""


def measure(page, root, clicks, quiet_ms, explorer):
    root.evaluate(_OBSERVE_JS)
    firsts, lasts, mutations = [], [], []
    while len(lasts) < clicks:
        if explorer and "end" in (root.locator(".widget-html", has_text="Round").first
                                  .text_content() or ""):
            labtools.widget_button(root, "Reset").click()
            time.sleep(1.0)
        result = root.evaluate(_CLICK_JS, quiet_ms)
        firsts.append(result["first"])
        lasts.append(result["last"])
        mutations.append(result["counts"])
        time.sleep(0.1)
    return firsts, lasts, mutations


def kernel_timing(page):
    """Run the timing code in the notebook's kernel (Lab only); parse its printed line."""
    text = page.evaluate("""(code) => new Promise(resolve => {
      const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      const future = kernel.requestExecute({code});
      let out = '';
      future.onIOPub = msg => {
        if (msg.content.text) out += msg.content.text;
        if (msg.content.ename) out += msg.content.ename + msg.content.evalue;
      };
      future.done.then(() => resolve(out));
    })""", KERNEL_TIMING)
    parts = text.split()
    return [float(v) for v in parts[1:5]] if parts and parts[0] == "KERNEL" else text


def summary(name, firsts, lasts):
    return (f"{name:24s} first chart changed {statistics.median(firsts):6.1f} ms, settled "
            f"{statistics.median(lasts):6.1f} ms (median of {len(lasts)}; settled range "
            f"{min(lasts):.0f}-{max(lasts):.0f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=42)
    parser.add_argument("--quiet-ms", type=float, default=300.0)
    parser.add_argument("--apps", default="lab,voila")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    explorer_nb = labtools.write_notebook(scratch / "explorer.ipynb", EXPLORER)
    demo_nb = labtools.write_notebook(scratch / "demo.ipynb", DEMO)
    demo5_nb = labtools.write_notebook(scratch / "demo5.ipynb", DEMO5)
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=labtools.CHROMIUM, headless=True,
                                     args=labtools.CHROMIUM_ARGS)
        for app in args.apps.split(","):
            server = (labtools.start_lab if app == "lab" else labtools.start_voila)(
                scratch / f"{app}-server")
            try:
                for name, nb in (("demo", demo_nb), ("five-chart demo", demo5_nb),
                                 ("explorer", explorer_nb)):
                    page = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
                    opened = (labtools.open_notebook if app == "lab" else labtools.open_voila)(
                        server, page, nb)
                    root = opened.locator(".jp-OutputArea-output").filter(
                        has=page.locator("button.widget-button", has_text="Step")).first
                    firsts, lasts, mutations = measure(page, root, args.clicks, args.quiet_ms,
                                                       name == "explorer")
                    results[app, name] = (firsts, lasts)
                    print(summary(f"{app} {name}", firsts, lasts))
                    if name == "explorer":
                        per_figure = {}
                        for counts in mutations:
                            for title, n in counts.items():
                                per_figure.setdefault(title, []).append(n)
                        print("  DOM mutation records per click, median by figure: " + ", ".join(
                            f"{t}: {statistics.median(v):.0f}" for t, v in per_figure.items()))
                        if app == "lab":
                            timing = kernel_timing(page)
                            if isinstance(timing, list):
                                med, lo, hi, model = timing
                                print(f"  kernel Step {med:.1f} ms median ({lo:.1f}-{hi:.1f}), "
                                      f"model's own step {model:.2f} ms (goal: Step <= 10 ms)")
                            else:
                                print(f"  kernel timing failed: {timing}")
                    page.context.close()
                med = statistics.median
                e = results[app, "explorer"]
                for floor in ("demo", "five-chart demo"):
                    d = results[app, floor]
                    print(f"  {app}: explorer / {floor}, settled {med(e[1]) / med(d[1]):.2f}x, "
                          f"first chart {med(e[0]) / med(d[0]):.2f}x"
                          + (" (goal: settled <= 1.5x)" if floor == "demo" else ""))
            finally:
                server.stop()
        browser.close()
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
