"""An exercise as a widget: the question, a text box for the answer, a Check button and the
feedback, so a student can answer in the notebook and in Voila's app mode (where code cells
cannot be edited).

The checking itself is :class:`marginloops.exercises.Exercise`; this only shows it.
"""

from __future__ import annotations

import html
import numbers

import ipywidgets as widgets
import traitlets

from ..exercises import Exercise, Feedback
from . import style
from .charts import stylesheet
from .controls import guarded


class _Answer(traitlets.Unicode):
    """The answer box's text: a number set from code is taken as its digits ("41230"); what
    is neither text nor a number (None, a bool, a list) is refused and the old text kept."""

    def validate(self, obj, value):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            if not obj.trait_has_value(self.name):
                raise traitlets.TraitError(f"value must be text, got {type(value).__name__}")
            for callback in getattr(obj, "refusal_callbacks", ()):
                callback(value)
            return getattr(obj, self.name)
        return super().validate(obj, value)


class AnswerText(widgets.Text):
    """A Text whose value only ever holds text (see :class:`_Answer`)."""

    value = _Answer(help="String value").tag(sync=True)


class ExerciseBox(widgets.VBox):
    """One exercise: type an answer, press Check (or Enter), read right / not yet and a hint.

    Parameters
    ----------
    exercise : Exercise
        The question and its answer.
    title : str
        Shown in bold before the question, e.g. "Exercise 1".
    placeholder : str, optional
        Grey text in the empty answer box. By default (or "") the exercise's
        :attr:`~marginloops.exercises.Exercise.form`,
        which states how the box reads a number (in per cent for a percentage question, with
        or without the % sign; no % sign in any other question): the same rule in every lesson.
    """

    def __init__(self, exercise: Exercise, title: str = "Exercise",
                 placeholder: str = ""):
        if not isinstance(exercise, Exercise):
            raise ValueError(f"exercise must be a marginloops.exercises.Exercise, got "
                             f"{type(exercise).__name__}")
        for name, text in (("title", title), ("placeholder", placeholder)):
            if not isinstance(text, str):
                raise ValueError(f"{name} must be a string, got {type(text).__name__}")
        placeholder = placeholder or exercise.form
        self.exercise = exercise
        self._last_value, self._last_result = None, None
        self.question = widgets.HTML(
            f"<p style='margin:4px 0'><b>{html.escape(title)}.</b> "
            f"{html.escape(exercise.question)}</p>")
        self.answer = AnswerText(value="", placeholder=placeholder, description="Your answer",
                                 continuous_update=False, layout={"width": "400px"})
        self.answer.refusal_callbacks = [lambda value: self._report(
            f"An answer is text or a number, not {type(value).__name__}: type it in the box.")]
        self.answer.style.description_width = "90px"
        self.check_button = widgets.Button(description="Check", button_style="primary",
                                           tooltip="Check your answer",
                                           layout={"width": "90px"})
        self.feedback = widgets.HTML(self._render(None))
        # Callbacks through guarded(): an error is a sentence in the feedback, not a traceback.
        self._submit = guarded(self._on_submit, self._report)
        self.check_button.on_click(guarded(lambda _: self.check(), self._report))
        self.answer.observe(self._submit, names="value")
        super().__init__([stylesheet(), self.question,
                          widgets.HBox([self.answer, self.check_button]), self.feedback],
                         layout={"border": "1px solid #bbb", "padding": "4px 8px",
                                 "margin": "6px 0"})
        self.add_class(style.ROOT_CLASS)  # the stylesheet's visible keyboard focus

    def _on_submit(self, change):
        # The Text commits on Enter or on leaving the box (continuous_update=False); an empty
        # box is not an answer, so clearing it does not count as a try.
        if change["new"].strip():
            self.check()

    def check(self, response: str | None = None) -> Feedback:
        """Check ``response`` (default: what is in the box), show and return the feedback."""
        if response is not None:
            if isinstance(response, bool) or not isinstance(response, (str, numbers.Real)):
                raise ValueError(f"response must be a string or a number (or None: what is in "
                                 f"the box), got {type(response).__name__}")
            with self.hold_trait_notifications():
                self.answer.unobserve(self._submit, names="value")
                try:
                    self.answer.value = str(response)
                finally:
                    self.answer.observe(self._submit, names="value")
        value = self.answer.value
        if value == self._last_value and self._last_result is not None:
            return self._last_result  # Enter then Check on one answer is one try, not two
        result = self.exercise.check(value)
        self._last_value, self._last_result = value, result
        self.feedback.value = self._render(result)
        return result

    def _report(self, sentence: str) -> None:
        """Show a problem inside a callback in the feedback area, in one sentence."""
        self.feedback.value = self._render(None, problem=sentence)

    # Text colours are darker shades of Okabe-Ito's green and vermilion: the chart colours
    # themselves are below WCAG's 4.5:1 contrast for text on white.
    @staticmethod
    def _render(result: Feedback | None, problem: str = "") -> str:
        if problem:
            text, colour, mark = problem, "#a04000", "? "
        elif result is None:
            text, colour, mark = "Type your answer and press Check.", "#555", ""
        elif result.correct:
            text, colour, mark = result.message, "#006b4f", "✓ "
        else:
            text, colour, mark = result.message, "#a04000", "✗ " if not result.malformed else "? "
        return (f"<div role='status' aria-live='polite' style='color:{colour};margin:2px 0'>"
                f"<span aria-hidden='true' style='font-weight:bold'>{mark}</span>"
                f"{html.escape(text)}</div>")
