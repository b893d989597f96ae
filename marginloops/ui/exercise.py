"""An exercise as a widget: the question, a text box for the answer, a Check button and the
feedback, so a student can answer in the notebook and in Voila's app mode (where code cells
cannot be edited); and :class:`AnswerSheet`, which gives the student every answer checked in
this kernel as a file to hand in.

The checking itself is :class:`marginloops.exercises.Exercise`; this only shows it.
"""

from __future__ import annotations

import base64
import html
import numbers
import re
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone

import ipywidgets as widgets
import traitlets

from ..exercises import Exercise, Feedback
from ..numbers import number
from . import style
from .chartkit import stylesheet
from .reports import guarded, message_html

#: Every ExerciseBox made in this kernel, oldest first (weak: a closed box drops out), and the
#: answer sheets to tell when one of them checks an answer.
_BOXES: list = []
_SHEETS: weakref.WeakSet = weakref.WeakSet()


@dataclass(frozen=True)
class CheckedAnswer:
    """One answer a student checked: when (UTC), what was typed, the feedback, and whether it
    was right and counted as a try (an answer the box could not read is not a try)."""

    time: datetime
    typed: str
    correct: bool
    counted: bool
    message: str


def was_answered(answers) -> bool:
    """An exercise counts as answered once the box read one of its answers (right, or a
    counted try); text it could not read ("banana", "1e99", a fraction for a per-cent question)
    is kept in the file but answers nothing."""
    return any(a.correct or a.counted for a in answers)


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
        self.title = title
        #: Every answer checked in this box, oldest first (what :class:`AnswerSheet` exports).
        self.answers: list[CheckedAnswer] = []
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
        _BOXES.append(weakref.ref(self))

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
        self.answers.append(CheckedAnswer(datetime.now(timezone.utc), value, result.correct,
                                          not result.malformed, result.message))
        for sheet in list(_SHEETS):  # a sheet's problem is the sheet's sentence, not the box's
            guarded(sheet.refresh, sheet._report)()  # noqa: SLF001 - same module
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


class AnswerSheet(widgets.VBox):
    """"Answers to hand in": the student's name and a link that downloads every answer checked
    in this kernel's :class:`ExerciseBox` es (what was typed, when, right or not, tries) as one
    small HTML page.

    The link is an HTML anchor with a ``data:`` URI and a ``download`` file name, rebuilt after
    every checked answer: the file is made in the page, so it works in JupyterLab and in Voila
    (which serves no files from the kernel) with nothing on the server. This is the way an
    ipywidgets maintainer recommends (jupyter-widgets/ipywidgets#1966; Voila's own issues
    #578 and #711 show that file links are forbidden there).

    Parameters
    ----------
    lesson : str
        The lesson's number as it appears in its file name, e.g. "03": names the file
        (``lesson-03-answers-<name>.html``) and heads the page.

    Answers live in the kernel: a restart or a new Binder session starts an empty sheet.
    """

    def __init__(self, lesson: str):
        if not isinstance(lesson, str) or not re.fullmatch(r"[0-9A-Za-z-]{1,20}", lesson):
            raise ValueError(f"lesson must be a short name such as '03' (letters, digits or -, "
                             f"1 to 20 of them), got {lesson!r:.40}")
        self.lesson = lesson
        self.name = widgets.Text(value="", description="Your name",
                                 placeholder="first and last name", continuous_update=True,
                                 layout={"width": "400px"})
        self.name.style.description_width = "90px"
        self.summary = widgets.HTML()
        self.link = widgets.HTML()
        self.message = widgets.HTML("")
        self.name.observe(guarded(lambda _: self.refresh(), self._report), names="value")
        super().__init__([stylesheet(),
                          widgets.HTML("<p style='margin:4px 0'><b>Answers to hand in.</b> "
                                       "Type your name, then download the file of your answers "
                                       "and hand it in.</p>"),
                          self.name, self.summary, self.link, self.message],
                         layout={"border": "1px solid #bbb", "padding": "4px 8px",
                                 "margin": "6px 0"})
        self.add_class(style.ROOT_CLASS)
        _SHEETS.add(self)
        self.refresh()

    def _report(self, sentence: str) -> None:
        self.message.value = message_html(sentence)

    @staticmethod
    def boxes() -> list:
        """The live exercise boxes of this kernel, oldest first."""
        live = [ref() for ref in _BOXES]
        return [box for box in live if box is not None and box.comm is not None]

    def exercises(self) -> list[tuple[str, str, list[CheckedAnswer]]]:
        """(title, question, answers) per exercise, in the order the boxes were made. A box
        shown again (its cell run twice) adds its answers to the same exercise."""
        found: dict = {}
        for box in self.boxes():
            key = (box.title, box.exercise.question)
            found.setdefault(key, []).extend(box.answers)
        return [(title, question, sorted(answers, key=lambda a: a.time))
                for (title, question), answers in found.items()]

    @property
    def filename(self) -> str:
        """``lesson-<lesson>-answers-<name>.html``, the name reduced to letters and digits."""
        name = re.sub(r"[^0-9A-Za-z]+", "-", self.name.value).strip("-")[:40] or "student"
        return f"lesson-{self.lesson}-answers-{name}.html"

    def document(self) -> str:
        """The file to hand in: a self-contained HTML page, one table row per checked answer."""
        rows, right, answered = [], 0, 0
        exercises = self.exercises()
        for title, question, answers in exercises:
            solved = any(a.correct for a in answers)
            tries = sum(a.counted for a in answers)
            right += solved
            answered += was_answered(answers)
            state = ("right" if solved else "not yet right" if was_answered(answers)
                     else "not answered (nothing it could read)" if answers else "not answered")
            rows.append(f"<h2>{html.escape(title)}: {state}, {number(tries, 0)} "
                        f"{'try' if tries == 1 else 'tries'}</h2>\n"
                        f"<p>{html.escape(question)}</p>")
            if answers:
                rows.append("<table><tr><th>when (UTC)</th><th>typed</th><th>result</th>"
                            "<th>feedback</th></tr>")
                for a in answers:
                    result = "right" if a.correct else "not yet" if a.counted else "not read"
                    rows.append(f"<tr><td>{a.time:%Y-%m-%d %H:%M:%S}</td>"
                                f"<td>{html.escape(a.typed)}</td><td>{result}</td>"
                                f"<td>{html.escape(a.message)}</td></tr>")
                rows.append("</table>")
        name = html.escape(self.name.value.strip()) or "(no name typed)"
        made = datetime.now(timezone.utc)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>Lesson {html.escape(self.lesson)} answers: {name}</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;"
            "text-align:left}h2{font-size:1.1em;margin-top:1.2em}</style></head><body>\n"
            f"<h1>marginloops lesson {html.escape(self.lesson)}: answers</h1>\n"
            f"<p>Student: <b>{name}</b>. Saved {made:%Y-%m-%d %H:%M} UTC. "
            f"{number(answered, 0)} of {number(len(exercises), 0)} exercises answered, "
            f"{number(right, 0)} right.</p>\n" + "\n".join(rows) + "\n</body></html>\n")

    def refresh(self) -> None:
        """Rebuild the summary and the download link from the boxes' answers."""
        exercises = self.exercises()
        answered = sum(was_answered(a) for _, _, a in exercises)
        right = sum(any(x.correct for x in a) for _, _, a in exercises)
        self.summary.value = (
            f"<div role='status' style='margin:2px 0'>{number(answered, 0)} of "
            f"{number(len(exercises), 0)} exercises answered, {number(right, 0)} right. "
            "Answers are kept only while this notebook's kernel runs.</div>")
        payload = base64.b64encode(self.document().encode("utf-8")).decode("ascii")
        self.link.value = (
            f"<a class='marginloops-download' download='{html.escape(self.filename)}' "
            f"href='data:text/html;charset=utf-8;base64,{payload}' "
            "style='display:inline-block;padding:4px 12px;margin:4px 0;background:#1565c0;"
            "color:#fff;border-radius:3px;text-decoration:none'>"
            f"Download my answers</a> <span style='color:#555'>"
            f"({html.escape(self.filename)})</span>")
