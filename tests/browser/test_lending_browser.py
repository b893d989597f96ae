"""The lending explorer in a real JupyterLab (issue 13, item 3): each Step redraws the price and
oracle lines, the repaid/seized bars, the health-factor map and the pool's point, the status
line follows the rounds; compare mode's Step redraws both runs and fills its table; nothing is
logged as an error (a line ending on NaN would be).
One page load; the screenshots are looked at by a person before anything is claimed of them.
"""

import html
import re

from labtools import explorers, line_paths, open_cells, save_screenshot, wait_until, widget_button

from marginloops.lending import LENDING_PRESETS, LendingCascade

TALL = {"width": 1400, "height": 2300}

# Per figure: its title, the d of each line path, the heights of its bars, its dots' positions.
_FIGURES_JS = """
(root) => Array.from(root.querySelectorAll('.bqplot')).map(f => ({
  title: ((f.querySelector('.mainheading') || {}).textContent || '').trim(),
  lines: Array.from(f.querySelectorAll('g.curve path.line')).map(p => p.getAttribute('d') || ''),
  bars: Array.from(f.querySelectorAll('rect.bar')).map(r => r.getAttribute('height') || ''),
  dots: Array.from(f.querySelectorAll('g.object_grp')).filter(g => g.querySelector('path.dot'))
    .map(g => g.getAttribute('transform') || ''),
}))
"""
TITLES = ("Venue price and oracle price by round", "Liquidations by round: repaid and seized",
          "Health-factor map: where loans reach HF 1",
          "The pool's reserves: x·y = k", "Bad debt and underwater debt by round")


def plain(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value or "")).strip()


def figures(explorer) -> dict:
    return {f["title"]: f for f in explorer.evaluate(_FIGURES_JS)}


def status_text(explorer) -> str:
    return plain(explorer.locator("[role='status']").first.inner_html())


def test_steps_redraw_every_lending_chart(lab_server, page, page_log, tmp_path):
    panel = open_cells(
        lab_server, page, tmp_path,
        "from marginloops.ui import LendingExplorer\n"
        "from marginloops.lending import LENDING_PRESETS\n"
        "LendingExplorer(LENDING_PRESETS['eth-pool'])",
        "from marginloops.ui import LendingCompare\n"
        "stale = LENDING_PRESETS['stale-oracle']\n"
        "LendingCompare(stale, stale.replace(heartbeat=0), labels=('heartbeat 3', 'no heartbeat'))",
        name="lending-explorer", viewport=TALL)
    explorer = explorers(panel).first
    explorer.scroll_into_view_if_needed()
    figs = wait_until(lambda: figures(explorer), lambda f: all(t in f for t in TITLES),
                      "the five lending charts drawn")
    twin = LendingCascade(LENDING_PRESETS["eth-pool"])  # the rounds the page must show
    save_screenshot(explorer, "lending-explorer-lab-0-start")
    before = figs
    for click in (1, 2, 3):
        rec = twin.step()
        widget_button(explorer, "Step").click()
        wait_until(lambda: status_text(explorer),
                   lambda s, k=rec.round: s.startswith(f"Round {k} "),
                   f"click {click}: the status line says round {rec.round}")
        # the price chart's venue line gets a point each round
        now = wait_until(lambda: figures(explorer),
                         lambda f, b=before: f[TITLES[0]]["lines"] != b[TITLES[0]]["lines"],
                         f"click {click}: the price chart redrawn")
        changed = [t for t in TITLES if now[t] != before[t]]
        print(f"click {click}: round {rec.round}, liquidated {rec.n_liquidated}, "
              f"sold {rec.sold_qty:.1f}; charts redrawn: {changed}")
        assert TITLES[3] in changed  # the pool's point moves with every sale (and the shock)
        if rec.n_liquidated:
            wait_until(lambda: figures(explorer),
                       lambda f, b=before: all(f[t] != b[t] for t in TITLES[:4]),
                       f"click {click}: price, bars, map and pool redrawn")
        before = figures(explorer)
        save_screenshot(explorer, f"lending-explorer-lab-{click}-step")
    assert any(len(f) > 0 for f in line_paths(explorer))

    # compare mode, in the same page: Step plays a round of both runs
    compare = explorers(panel).nth(1)
    compare.scroll_into_view_if_needed()
    title = "Venue and oracle price by round"
    before = wait_until(lambda: figures(compare), lambda f: title in f, "the compare chart")
    for click in (1, 2, 3):
        widget_button(compare, "Step").click()
        before = wait_until(lambda: figures(compare),
                            lambda f, b=before: f[title]["lines"] != b[title]["lines"],
                            f"compare click {click}: the price chart redrawn")
    table = plain(compare.locator("table").first.inner_html())
    print("compare table:", table)
    assert "So far" in table and "bad debt" in table
    save_screenshot(compare, "lending-compare-lab-3-steps")

    # phase mode in the explorer: Reset, then one stage per click
    explorer.scroll_into_view_if_needed()
    widget_button(explorer, "Reset").click()
    explorer.get_by_label("Phase mode: one stage of the round per click").check()
    want = ("Round 0, stage 1 of 2 (the shock)", "Round 0, stage 2 of 2 (new price)",
            "Round 1, stage 1 of 5 (oracle update)", "Round 1, stage 2 of 5 (check health)")
    for stage in want:
        widget_button(explorer, "Step").click()
        wait_until(lambda: explorer.inner_text(), lambda t, s=stage: s in t,
                   f"phase mode shows {stage!r}")
    save_screenshot(explorer, "lending-explorer-lab-phase-check-health")
    assert page_log.errors == []
