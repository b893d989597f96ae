"""Callbacks that never raise, and widgets that report a problem in one plain sentence:
:func:`guarded`, :class:`Reports` (a widget's own message area, or its owner's narration) and
:class:`StopsOnProblem` (an explorer: the narration, and Play stops)."""

from __future__ import annotations

import contextlib
import functools
import html

import ipywidgets as widgets

__all__ = ["Reports", "StopsOnProblem", "guarded", "message_html", "not_listening",
           "problem_sentence"]


def problem_sentence(exc: BaseException) -> str:
    """``exc`` as one plain sentence for the narration: what went wrong, and that the widget
    still works."""
    text = " ".join(str(exc).split()) or f"an unexpected {type(exc).__name__}"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"That could not be done ({text.rstrip('.')}); nothing else changed, try again."


def guarded(handler, report):
    """``handler`` made safe to register as a widget callback (``observe``, ``on_click``,
    ``on_submit``): an exception it raises is not let out (the browser would only log it and
    the widget would stop answering) but shown by ``report(sentence)`` as one plain sentence.

    Every callback in ``marginloops.ui`` is registered through this, so that no widget can be
    left half-updated by an error (a test forces one in each).
    """
    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a widget callback must never let one out
            try:
                report(problem_sentence(exc))
            except Exception:  # noqa: BLE001 - the report itself failed: nothing more to do
                pass
            return None
    return run


@contextlib.contextmanager
def not_listening(listeners):
    """While a widget sets its own inputs, it is not told of it: each ``(widget, handler,
    trait)`` of ``listeners`` is unobserved for the block and observed again after it (a
    change it makes itself is not a change a student made)."""
    listeners = list(listeners)
    for widget, handler, name in listeners:
        widget.unobserve(handler, names=name)
    try:
        yield
    finally:
        for widget, handler, name in listeners:
            widget.observe(handler, names=name)


def message_html(sentence: str) -> str:
    """A widget's own message area showing ``sentence`` (escaped); "" hides it."""
    if not sentence:
        return ""
    return (f"<div role='alert' style='color:#a04000;margin:2px 0'>{html.escape(sentence)}"
            f"</div>")


class StopsOnProblem:
    """For an explorer (a ``time`` :class:`TimeControls` and a ``_log_note(text)`` narration):
    its callbacks report errors in the narration, and an error also stops Play, so that a
    failing step is reported once, not on every tick."""

    def _guard(self, handler):
        """``handler`` as a callback whose errors the narration reports (:func:`guarded`)."""
        return guarded(handler, self._problem)

    def _problem(self, sentence: str) -> None:
        self.time.stop()
        self._log_note(sentence)


class Reports:
    """A widget that reports problems in one plain sentence: to the callbacks registered with
    :meth:`on_problem` (an explorer's narration), or while there are none in its own message
    area ``message`` (an HTML widget the class places in its children)."""

    def _init_reports(self) -> None:
        self._problem_callbacks = []
        # hidden while empty: no blank line in a layout that has nothing to say
        self.message = widgets.HTML(layout={"display": "none", "flex": "1 0 100%"})
        self.message.observe(self.guard(self._show_message), names="value")

    def _show_message(self, change) -> None:
        self.message.layout.display = None if change.new else "none"

    def on_problem(self, callback) -> None:
        """Call ``callback(sentence)`` for each problem instead of showing it in ``message``."""
        self._problem_callbacks.append(callback)

    def report(self, sentence: str) -> None:
        """Show ``sentence`` (a refused value, a callback's error)."""
        if self._problem_callbacks:
            for callback in self._problem_callbacks:
                callback(sentence)
        else:
            self.message.value = message_html(sentence)

    def guard(self, handler):
        """``handler`` as a callback whose errors this widget reports (see :func:`guarded`)."""
        return guarded(handler, self.report)
