"""The dead-widget sentence (issue 10, item 1): in every explorer's stylesheet, keyed on what
JupyterLab and ipywidgets mark; the browser test checks what a student sees."""

import re

import pytest

from marginloops.ui import style
from marginloops.ui.charts import stylesheet


def test_sentence_says_what_happened_and_what_to_do():
    text = style.DEAD_SENTENCE
    assert "kernel stopped" in text and "run this cell again" in text and "Run All" in text
    assert "kernel stopped" in style.DEAD_SENTENCE_VOILA
    assert "reload the page" in style.DEAD_SENTENCE_VOILA  # Voilà shows no cells to run


def test_stylesheet_shows_the_sentence_on_both_signals():
    css = stylesheet().value
    content = re.findall(r'content: (".*?");', css)
    assert content == [style.css_string(style.DEAD_SENTENCE),
                       style.css_string(style.DEAD_SENTENCE_VOILA)] * 2 + [
                       style.css_string(style.DEAD_SENTENCE_UNREACHABLE),
                       style.css_string(style.DEAD_SENTENCE_UNREACHABLE_VOILA)]
    # Voilà's kernel gone (marked on <body> by the package's template): the reload sentence
    assert f"{style.VOILA_CELLS} {style.VOILA_KERNEL_GONE}::before" in css
    # a server gone for good (Binder's idle stop) counts only after a delay, not on a blip
    assert (".jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator[data-status='connecting'])"
            f" .{style.ROOT_CLASS}::before {{ animation: marginloops-live-banner "
            f"{style.UNREACHABLE_DELAY_S}s step-end backwards;") in css
    # after a restart (ipywidgets' class on the root) and after a shutdown (Lab's toolbar)
    assert f".{style.ROOT_CLASS}.jupyter-widgets-disconnected::before" in css
    assert (".jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator:is([data-status="
            "'disconnected'],[data-status='unknown'])) "
            f".{style.ROOT_CLASS}::before") in css
    assert "pointer-events: none" in css
    assert f"{style.VOILA_CELLS} .{style.ROOT_CLASS}.jupyter-widgets-disconnected::before" in css


@pytest.mark.parametrize("text, literal", [
    ("plain", '"plain"'),
    ('say "hi"', '"say \\22 hi\\22 "'),
    ("a\\b", '"a\\5c b"'),
    ("Run \u25b8 Run", '"Run \\25b8  Run"'),
])
def testcss_string_escapes_quotes_backslashes_and_non_ascii(text, literal):
    assert style.css_string(text) == literal


def test_stylesheet_holds_no_markup_breaking_character():
    """The sheet lives in an HTML widget's <style>: a "<" could end it early."""
    assert "<" not in style.CSS


def test_the_shipped_voila_template_is_what_the_package_writes():
    """jupyter-config/voila/templates/marginloops (installed with the package, pyproject.toml)
    holds exactly style.voila_template_files(), and the voila.json installed beside it makes it
    Voilà's default."""
    import json
    from pathlib import Path
    root = Path(__file__).parents[1] / "jupyter-config"
    shipped = root / "voila" / "templates" / style.VOILA_TEMPLATE
    assert {p.name: p.read_text() for p in shipped.iterdir()} == style.voila_template_files()
    config = json.loads((root / "voila.json").read_text())
    assert config == {"VoilaConfiguration": {"template": style.VOILA_TEMPLATE}}
    pyproject = (root.parent / "pyproject.toml").read_text()
    for name in (*style.voila_template_files(), "etc/jupyter/voila.json"):
        assert name in pyproject
