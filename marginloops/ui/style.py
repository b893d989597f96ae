"""Colours and sizes shared by the charts: the Okabe-Ito palette, readable on a projector."""

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
# vision deficiency. Every mark also differs by shape, line style or legend label.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#8C8C8C"  # a neutral grey beside the palette, always paired with its own symbol

FIG_LAYOUT = {"width": "100%", "height": "300px", "min_width": "360px"}
FIG_MARGIN = {"top": 40, "bottom": 50, "left": 75, "right": 30}

# ---------------------------------------------------------------------------- projector mode
#: The class every explorer's root widget carries: the stylesheet below is scoped to it.
ROOT_CLASS = "marginloops"
#: The class the root carries while projector mode is on.
PROJECTOR_CLASS = "marginloops-projector"

#: Projector mode's stand-ins for the palette's light colours: the same hues, dark enough for a
#: contrast of at least 4.5:1 on white (Okabe-Ito's orange is 2.2:1, sky blue 2.3:1, yellow
#: 1.3:1, reddish purple 3.1:1, bluish green 3.4:1, the grey 3.4:1); black, blue (5.2:1) and
#: vermillion (3.9:1, kept apart from the darker orange) stay.
PROJECTOR_COLOURS = {
    ORANGE: "#8F5F00",
    SKY: "#1F78B4",
    YELLOW: "#7A7000",
    GREEN: "#00775A",
    PURPLE: "#A8407E",
    GREY: "#595959",
}
#: Projector mode's sizes: lines this many times thicker, bar and marker outlines this much
#: wider (px), markers this many times bigger (area), fonts in px.
PROJECTOR_LINE_SCALE = 1.75
PROJECTOR_OUTLINE_ADD = 1.0
PROJECTOR_MARKER_SCALE = 2.0
PROJECTOR_TICK_FONT = "16px"
PROJECTOR_TITLE_FONT = "18px"  # more would cut the longest title
PROJECTOR_TEXT_FONT = "18px"
PROJECTOR_LABEL_FONT = "18px"
PROJECTOR_FIG_HEIGHT = "380px"
#: Extra room (px) for the bigger tick and axis labels, added to each side of FIG_MARGIN.
PROJECTOR_MARGIN_ADD = {"top": 8, "bottom": 14, "left": 40, "right": 0}
PROJECTOR_LABEL_OFFSET_ADD = 16  # px, to every axis label's offset


def projector_colour(colour):
    """``colour``'s projector-mode stand-in (itself if it is dark enough already)."""
    if not isinstance(colour, str):
        return colour
    return PROJECTOR_COLOURS.get(colour.upper(), colour)


# ------------------------------------------------------------------------------ dead widgets
#: What a widget says once its kernel is gone (restarted, shut down, or Binder's idle stop): it
#: no longer answers, and a student needs to know why and what to do.
DEAD_SENTENCE = ("The kernel stopped, so this explorer no longer answers: run this cell again, "
                 "or Run All (Run \u25b8 Run All Cells).")
#: The same when the whole server is gone (Binder stops it after about ten minutes unused):
#: running a cell cannot help until a new server runs.
DEAD_SENTENCE_UNREACHABLE = ("The server stopped (Binder stops it after about ten minutes "
                             "unused), so this explorer no longer answers: open the lesson "
                             "again (the Binder link, or jupyter lab), then Run All.")
#: The same in Voilà, which has no cells to run: a new kernel comes with a reload.
DEAD_SENTENCE_VOILA = ("The kernel stopped, so this explorer no longer answers: reload the page "
                       "to start it again.")
#: Voilà's page holds its rendered notebook in this element (its "lab" template).
VOILA_CELLS = "#rendered_cells"
#: The class ipywidgets 8 puts on a widget's view once its model's comm is closed: JupyterLab's
#: widget manager calls ``disconnect()`` (every model's ``comm_live`` becomes false) when the
#: kernel's status turns to "restarting" (@jupyter-widgets/jupyterlab-manager ``manager.ts``,
#: ``_handleKernelStatusChange``; @jupyter-widgets/base ``widget.ts``, ``_comm_live_update``).
#: On its own it only shows a red "broken chain" icon in front of every widget, with no word.
DISCONNECTED_CLASS = "jupyter-widgets-disconnected"
#: A kernel shut down or culled (not restarted) leaves ``comm_live`` true, but JupyterLab's
#: notebook toolbar then shows its execution indicator with ``data-status="disconnected"``
#: (@jupyterlab/notebook ``executionindicator.tsx``): a notebook panel holding one has lost its
#: kernel. (Seen in JupyterLab 4.6 after ``DELETE /api/kernels/<id>``.)
#: A clean-clone run saw the indicator read ``data-status="unknown"`` instead after the same
#: ``DELETE`` (the session then holds no kernel): that is a lost kernel too.
KERNEL_LOST_PANEL = (".jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator"
                     ":is([data-status='disconnected'],[data-status='unknown']))")
#: A server that stopped (Binder's idle stop ends the whole server) leaves the indicator at
#: ``data-status="connecting"`` for good (seen for 5 minutes in JupyterLab 4.6 after stopping
#: the server); a network blip shows it for a moment too, so this one counts only after
#: :data:`UNREACHABLE_DELAY_S` seconds.
KERNEL_UNREACHABLE_PANEL = (".jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator"
                            "[data-status='connecting'])")
UNREACHABLE_DELAY_S = 10

# ------------------------------------------------- Voilà: kernel shut down or culled, server gone
#: Voilà 0.5 marks nothing when its kernel is shut down or culled, nor when its server stops: its
#: page holds a bare ``KernelConnection`` (no session poll, no status bar), the server leaves the
#: kernel's websocket open after a shutdown, and the widget manager reacts only to a "restarting"
#: status (@voila-dashboards widgets-manager8 plugin; @jupyter-widgets/jupyterlab-manager
#: ``KernelWidgetManager``). Seen in Voilà 0.5.13 with Chromium: after ``DELETE
#: /api/kernels/<id>``, a cull (``--MappingKernelManager.cull_idle_timeout``) or a stopped server,
#: not one DOM mutation in 100-140 s, and a click on Step changed nothing but a caret colour
#: (voila-dashboards/voila#67 asks for a "connection failed" notice; still open).
#: The package's Voilà template (:func:`voila_template_files`) therefore runs a few lines of
#: script (:data:`VOILA_WATCH_JS`) that ask the server about the page's kernel when a student
#: presses a key or the mouse inside an explorer, and when the page is shown again, and set this
#: attribute on ``<body>``: "gone" (the server answers 404: shut down or culled) or "unreachable"
#: (no answer, twice :data:`VOILA_RETRY_S` seconds apart: the server stopped); removed again on an
#: answer. The stylesheet keys on it like on the others.
VOILA_KERNEL_ATTR = "data-marginloops-kernel"
#: The template's name (``?template=marginloops`` on a Voilà URL, or ``--template=marginloops``).
VOILA_TEMPLATE = "marginloops"
VOILA_RETRY_S = 3
#: An explorer on a Voilà page whose kernel is gone, or whose server no longer answers (written
#: with ``:is()`` so that the Voilà selectors built from it still match inside #rendered_cells).
VOILA_KERNEL_GONE = f".{ROOT_CLASS}:is(body[{VOILA_KERNEL_ATTR}='gone'] *)"
VOILA_SERVER_GONE = f".{ROOT_CLASS}:is(body[{VOILA_KERNEL_ATTR}='unreachable'] *)"
#: The server-stopped sentence in Voilà: a reload alone cannot help, a new server can.
DEAD_SENTENCE_UNREACHABLE_VOILA = ("The server stopped (Binder stops it after about ten minutes "
                                   "unused), so this explorer no longer answers: open the "
                                   "lesson's link again to start a new one.")
#: The template's script (no jinja markup in it). It asks ``GET api/kernels/<id>`` with
#: ``no_track_activity`` (jupyter_server's ``APIHandler.update_api_activity`` then does not count
#: the request, so it keeps no idle server alive); the page's kernel id and base URL come from
#: Voilà's ``#jupyter-config-data``. Its answers: a JSON reply = the server's own ("alive", or
#: "gone" on a 404); no reply, a page that is not JSON (a proxy's or hub's) or 424/502/503/504 =
#: no server behind the page ("unreachable"; JupyterHub answers an API request for a server that
#: is not running with 424, jupyterhub/jupyterhub#3636, and JupyterLab's own kernel client
#: treats 424 and 503 as "no server yet"); anything else changes nothing.
VOILA_WATCH_JS = """
(() => {
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const token = new URLSearchParams(window.location.search).get('token');
  const url = (config.baseUrl || '/').replace(/\\/?$/, '/') + 'api/kernels/'
    + encodeURIComponent(config.kernelId) + '?no_track_activity=1';
  const headers = token ? {Authorization: 'token ' + token} : {};
  const ask = () => fetch(url, {headers, cache: 'no-store', credentials: 'same-origin'}).then(
    (reply) => {
      const json = /json/.test(reply.headers.get('content-type') || '');
      if (reply.ok && json) return 'alive';
      if (reply.status === 404 && json) return 'gone';
      if (!json || [424, 502, 503, 504].includes(reply.status)) return 'unreachable';
      return 'unknown';
    },
    () => 'unreachable');
  const wait = (ms) => new Promise((done) => setTimeout(done, ms));
  let asking = false;
  const check = async () => {
    if (asking || !config.kernelId) return;
    asking = true;
    try {
      let state = await ask();
      if (state === 'unreachable') state = await wait(RETRY_MS).then(ask);
      if (state === 'gone' || state === 'unreachable') document.body.setAttribute(ATTR, state);
      else if (state === 'alive') document.body.removeAttribute(ATTR);
    } finally {
      asking = false;
    }
  };
  const inExplorer = (event) => event.target.closest && event.target.closest(ROOT);
  for (const type of ['pointerdown', 'keydown']) {
    document.addEventListener(type, (event) => { if (inExplorer(event)) check(); }, true);
  }
  document.addEventListener('visibilitychange', () => { if (!document.hidden) check(); });
})();
""".replace("RETRY_MS", str(VOILA_RETRY_S * 1000)).replace(
    "ATTR", repr(VOILA_KERNEL_ATTR)).replace("ROOT", repr(f".{ROOT_CLASS}"))


def voila_template_files() -> dict:
    """The package's Voilà template, file name -> text (installed under
    ``share/jupyter/voila/templates/marginloops/``): Voilà's own "lab" template plus
    :data:`VOILA_WATCH_JS` at the end of the page (Voilà's documented way to extend a template:
    ``conf.json`` names the base template, ``index.html.j2`` extends its blocks)."""
    index = ("{%- extends 'voila/templates/lab/index.html.j2' -%}\n"
             "{%- block body_footer -%}\n{{ super() }}\n"
             f"<script>{VOILA_WATCH_JS}</script>\n"
             "{%- endblock body_footer -%}\n")
    return {"conf.json": '{"base_template": "lab"}\n', "index.html.j2": index}


def css_string(text: str) -> str:
    """``text`` as a CSS string literal (for ``content:``)."""
    return '"' + "".join(c if c.isascii() and c not in '"\\' else f"\\{ord(c):x} "
                         for c in text) + '"'


def _dead_css(root: str, dead: str = "", sentence: str = "") -> str:
    """The rules that turn a dead widget (its root of class ``root``; ``dead``: the selectors
    that find it dead) into one plain sentence over its greyed-out controls; a click on it
    makes the sentence flash instead of nothing. The sentence is :data:`DEAD_SENTENCE`, or
    :data:`DEAD_SENTENCE_VOILA` inside Voilà's page, unless ``sentence`` names one for both."""
    dead = dead or f"{root}.{DISCONNECTED_CLASS}, {KERNEL_LOST_PANEL} {root}, {VOILA_KERNEL_GONE}"
    voila = "" if sentence else f"""
{", ".join(f"{VOILA_CELLS} {part}::before" for part in dead.split(", "))} {{
  content: {css_string(DEAD_SENTENCE_VOILA)}; }}"""
    each = lambda suffix: ", ".join(f"{part}{suffix}" for part in dead.split(", "))  # noqa: E731
    return f"""
/* A dead widget (kernel restarted or gone): one sentence at its top, kept in view while the
   reader scrolls through it; its controls greyed out and unclickable; a click flashes the
   sentence. ipywidgets' broken-chain icons inside it are hidden: the sentence says it. */
{each("")} {{ cursor: not-allowed; }}
{each("::before")} {{
  content: {css_string(sentence or DEAD_SENTENCE)}; display: block; position: sticky; top: 0;
  z-index: 20; align-self: stretch; margin: 0 0 6px 0; padding: 8px 12px;
  font: normal normal 600 15px/1.4 var(--jp-ui-font-family, sans-serif);
  color: {BLACK}; background: #FFF3E0; border: 2px solid {VERMILLION}; border-radius: 3px;
  white-space: normal; text-align: left; }}{voila}
{each(":active::before")} {{ color: #FFFFFF; background: #B34F00; }}
{each(" > *")} {{ opacity: 0.45; filter: grayscale(1); pointer-events: none; }}
{each(f" .{DISCONNECTED_CLASS}::before")}, {each(f" {root}::before")} {{
  display: none !important; }}
"""


def _late_dead_css(root: str) -> str:
    """The same look for an unreachable server, held back for :data:`UNREACHABLE_DELAY_S`
    seconds: an animation that keeps the live look until it ends (``step-end``) and then lets
    the dead look (the rules of :func:`_dead_css`, repeated for this selector) show."""
    late = f"{KERNEL_UNREACHABLE_PANEL} {root}"
    hold = f"{UNREACHABLE_DELAY_S}s step-end backwards"
    return _dead_css(root, late) + f"""
@keyframes marginloops-live-banner {{ from {{ max-height: 0; padding: 0; margin: 0;
  border-width: 0; overflow: hidden; opacity: 0; }} }}
@keyframes marginloops-live-controls {{ from {{ opacity: 1; filter: none;
  pointer-events: auto; }} }}
{late}::before {{ animation: marginloops-live-banner {hold};
  content: {css_string(DEAD_SENTENCE_UNREACHABLE)}; }}
{late} > * {{ animation: marginloops-live-controls {hold}; }}
"""


def _css() -> str:
    root, proj = f".{ROOT_CLASS}", f".{ROOT_CLASS}.{PROJECTOR_CLASS}"
    recolour = "\n".join(
        f"{proj} [style*='{old}' i] {{ color: {new} !important; }}"
        for old, new in PROJECTOR_COLOURS.items())
    return f"""
/* Keyboard focus is always visible inside an explorer: ipywidgets removes the outline of its
   text boxes and slider handles (with !important), so the class is repeated to outrank it. */
{root}{root}{root} :focus-visible, {root}{root}{root} .noUi-handle:focus {{
  outline: 3px solid {BLUE} !important; outline-offset: 2px; }}
/* Projector mode: bigger, blacker text (status, narration, keys, tables; the controls keep
   their size, which their fixed label widths need); the charts change in Python. */
{proj} .widget-html-content, {proj} .widget-html-content div, {proj} .widget-html-content li,
{proj} .widget-html-content p, {proj} .widget-html-content table {{
  font-size: {PROJECTOR_TEXT_FONT} !important; color: {BLACK} !important; }}
{proj} .widget-label, {proj} label, {proj} input, {proj} select {{ color: {BLACK} !important; }}
{proj} .bqplot text.axislabel {{ font-size: {PROJECTOR_LABEL_FONT} !important;
  fill: {BLACK} !important; }}
{recolour}
{_dead_css(root)}{_late_dead_css(root)}
/* Voilà's server gone (marked by the package's Voilà template): a reload cannot help. */
{_dead_css(root, VOILA_SERVER_GONE, DEAD_SENTENCE_UNREACHABLE_VOILA)}"""


#: The explorers' stylesheet (an HTML widget holding a <style> shows it): a visible focus ring,
#: projector mode's text and a dead widget's sentence (:data:`DEAD_SENTENCE`), all scoped to
#: :data:`ROOT_CLASS`.
CSS = _css()
