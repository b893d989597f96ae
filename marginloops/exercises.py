"""Exercises with self-checks: a question, the answer the model gives, and feedback that says
"right" or "not yet" with a hint, never the answer on the first try.

Answers are checked from what a student types, so anything a student can type is handled: a
malformed answer gets a helpful message, never a traceback.

How a number is read: one rule for every exercise of every lesson (stated in the answer box's
placeholder, :attr:`Exercise.form`, and in lessons/TEACHERS.md):

- A **percentage question** (``unit="%"``) takes a number **in per cent**, with or without the
  % sign: "3.5" and "3.5%" both mean 3.5%. A fraction is never reinterpreted: "0.035" means
  0.035%. When that fraction, read as a fraction, would have been right, the feedback says how
  the box reads numbers, and the slip does not count as a try.
- **Every other question** (a count, a price, a number of units, a leverage, a ratio) takes a
  plain number; a "%" typed there is refused with a sentence naming what the question wants,
  and does not count as a try.
- A number passed from code (``exercise.check(3.5)``) is read as if its digits were typed.

Each exercise's tolerance matches what its question asks: to the unit for a count or a number
of units, to the cent (or what the question says) for a price, and, for a number read off the
explorer's status line (one decimal of %), half its last digit plus rounding.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ._checks import MAX_MAGNITUDE, check_int, check_number, is_real
from .numbers import number, percent

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9}


def parse_number(text) -> float:
    """Read a number the way a student writes it: "41,230", "$41,230.5", "4.1M", "2.5 %",
    "12 USD", "-3%". A percentage is returned as a fraction (2.5% -> 0.025). Numbers (Python's
    or numpy's, not True/False) are taken as they are; digits may be of any script, but of one
    script per answer ("4١230" is refused); magnitudes above 1e15 are refused.

    Raises ``ValueError`` with a message that says what was expected.

    >>> parse_number("2.5%"), parse_number("41,230"), parse_number("12k")
    (0.025, 41230.0, 12000.0)
    """
    value, percent_sign = read_answer(text)
    return value / 100 if percent_sign else value


def read_answer(text) -> tuple[float, bool]:
    """What a student typed, as the number written and whether it carried a % sign:
    "2.5%" -> (2.5, True), "41,230" -> (41230.0, False). A number from code has no sign.

    Raises ``ValueError`` as :func:`parse_number` does.

    >>> read_answer("2.5 %"), read_answer("$41,230.50"), read_answer(7)
    ((2.5, True), (41230.5, False), (7.0, False))
    """
    if isinstance(text, (bool, np.bool_)):
        raise ValueError(f"expected a number, got {text!r}")
    if is_real(text):  # int, float and numpy's integer and floating numbers
        try:
            value = float(text)
        except OverflowError:  # an int too big for a float: too big to be an answer
            value = MAX_MAGNITUDE * 10
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {_short(repr(text))}")
        if abs(value) > MAX_MAGNITUDE:
            raise ValueError(f"{_short(repr(text))} is too big to be an answer: type an ordinary "
                             f"number, for example 41230 or 4.1M")
        return value, False
    if not isinstance(text, str):
        raise ValueError(f"expected a number, got {type(text).__name__}")
    raw = text.strip()
    shown = _short(repr(raw))
    if not raw:
        raise ValueError("the answer is empty: type a number, for example 41230 or 2.5%")
    scripts = _digit_scripts(raw)
    if len(scripts) > 1:
        raise ValueError(f"could not read {shown} as a number: it mixes digits of different "
                         f"scripts ({' and '.join(scripts)}); type every digit the same way, "
                         f"for example 41230")
    s = raw.lower().replace("usd", "").replace("$", "").replace("\u2212", "-").strip()
    scale, percent_sign = 1.0, False
    if s.endswith("%"):
        s, percent_sign = s[:-1].strip(), True
    elif s and s[-1] in _SUFFIXES and len(s) > 1 and s[-2].isdigit():
        s, scale = s[:-1], _SUFFIXES[s[-1]]
    s = s.replace(" ", "")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", s):
        s = s.replace(",", "")  # thousands separators
    elif "," in s:
        raise ValueError(f"could not read {shown} as a number: use a dot for decimals "
                         f"(2.5, not 2,5) and commas only between thousands (41,230)")
    if not _NUMBER.match(s):
        raise ValueError(f"could not read {shown} as a number: type digits, for example "
                         f"41230, 41,230.5, 4.1M or 2.5%")
    value = float(s) * scale
    if not math.isfinite(value) or abs(value) / (100 if percent_sign else 1) > MAX_MAGNITUDE:
        raise ValueError(f"{shown} is too big to be an answer: type an ordinary number, for "
                         f"example 41230 or 4.1M")
    return value, percent_sign


def _digit_scripts(text: str) -> list:
    """The digit scripts ``text`` uses, each shown by its first digit ("4", "١", ...).

    Python reads any script's decimal digits, even mixed ("4١230" as 41230); an answer mixing
    scripts is more likely a slip than a number, so it is refused rather than guessed.
    """
    seen = {}
    for ch in text:
        d = unicodedata.decimal(ch, None)
        if d is not None:
            seen.setdefault(ord(ch) - d, ch)  # the code point of that script's zero
    return list(seen.values())


def _short(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, so a pasted essay is not echoed back whole."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


#: unit -> (what the question asks for, the answer box's placeholder). One rule for every
#: lesson: a percentage in per cent with or without its sign; no % sign anywhere else.
_KINDS = {
    "%": ("a percentage", "in per cent: 3.5 and 3.5% both mean 3.5%"),
    "USD": ("an amount in USD", "in USD, e.g. 41,230.50 (no %)"),
    "positions": ("a count of positions", "a whole number, e.g. 120 (no %)"),
    "units": ("a number of units", "a number of units, e.g. 12,500 (no %)"),
    "x": ("a leverage", "a leverage, e.g. 20 (no %)"),
    "": ("a plain number (a ratio, no unit)", "a plain number, e.g. 0.75 (no %)"),
}


@dataclass(frozen=True)
class Feedback:
    """The result of one check: ``correct``, and ``message`` in words for the student."""

    correct: bool
    message: str
    malformed: bool = False


@dataclass
class Exercise:
    """A question with one numeric answer.

    Parameters
    ----------
    question : str
        What to ask, in words.
    answer : float
        The right answer (compute it with the package, so the text cannot drift from the model).
    tolerance : float
        Accepted relative error, e.g. 0.01 for 1% (default 0.5%); ``abs_tolerance`` adds an
        absolute one (useful for answers near 0).
    hints : sequence of str
        Shown one by one after wrong answers.
    reveal_after : int
        Wrong answers after which the answer is shown (>= 2: never on the first try).
    unit : str
        How the answer is shown ("USD", "%", "positions", "units", "x", or "" for a plain
        number such as a ratio). With "%", :attr:`answer` is a fraction (0.025) and a student
        types it in per cent, "2.5" or "2.5%" (the module's rule).
    """

    question: str
    answer: float
    tolerance: float = 0.005
    abs_tolerance: float = 0.0
    hints: tuple = ()
    reveal_after: int = 3
    unit: str = ""
    attempts: int = field(default=0, init=False)
    solved: bool = field(default=False, init=False)

    def __post_init__(self):
        if not isinstance(self.question, str) or not self.question.strip():
            raise ValueError(f"question must be a non-empty string, got {self.question!r}")
        self.answer = check_number("answer", self.answer)
        self.tolerance = check_number("tolerance", self.tolerance, lo=0, hi=1)
        self.abs_tolerance = check_number("abs_tolerance", self.abs_tolerance, lo=0)
        self.reveal_after = check_int("reveal_after", self.reveal_after, lo=2, hi=100)
        if isinstance(self.hints, str) or not isinstance(self.hints, (tuple, list)) or not all(
                isinstance(h, str) for h in self.hints):
            raise ValueError(f"hints must be a sequence of strings, got {self.hints!r:.80}")
        self.hints = tuple(self.hints)
        if not isinstance(self.unit, str):
            raise ValueError(f"unit must be a string such as 'USD' or '%', got {self.unit!r:.80}")

    @property
    def kind(self) -> str:
        """What the question asks for, in words ("a percentage", "a count of positions")."""
        return _KINDS.get(self.unit, (f"a number in {self.unit}", ""))[0]

    @property
    def form(self) -> str:
        """How to type the answer, short enough for the answer box's placeholder.

        >>> Exercise("How far?", 0.156, unit="%").form
        'in per cent: 3.5 and 3.5% both mean 3.5%'
        >>> Exercise("How many?", 353, unit="positions").form
        'a whole number, e.g. 120 (no %)'
        """
        return _KINDS.get(self.unit, ("", f"a number in {self.unit}, e.g. 12.5 (no %)"))[1]

    def accepts(self, value: float) -> bool:
        """Whether ``value`` (a fraction for a percentage question) is within the tolerance."""
        return bool(abs(value - self.answer) <= max(self.tolerance * abs(self.answer),
                                                    self.abs_tolerance))

    def show(self, value: float) -> str:
        """``value`` as the student should read it, in this exercise's unit."""
        value = check_number("value", value)
        if self.unit == "%":
            return percent(value, 2)
        whole = float(value).is_integer() and float(self.answer).is_integer()
        shown = number(value, 2 if abs(value) < 1e6 and not whole else 0)
        return f"{shown} {self.unit}".strip()

    def check(self, response) -> Feedback:
        """Check what the student typed (a string or a number); never raises.

        The module docstring states how a number is read. A malformed answer, a % sign in a
        question that is not about a percentage, and a fraction typed where per cent was asked
        (when the fraction would have been right) are explained and not counted as tries.
        """
        try:
            number, percent_sign = read_answer(response)
        except ValueError as exc:
            return Feedback(False, f"Not read: {exc}.", malformed=True)
        if self.unit != "%" and percent_sign:
            return Feedback(False, f"Not read: this question asks for {self.kind}, not a "
                                   f"percentage; type the number without the % sign.",
                            malformed=True)
        value = number / 100 if self.unit == "%" else number
        if (self.unit == "%" and not percent_sign and not self.accepts(value)
                and self.accepts(number)):
            typed = _short(response.strip() if isinstance(response, str) else f"{number:g}")
            return Feedback(False, f"Not counted: this question takes numbers in per cent, so "
                                   f"{typed} means {typed}%. A fraction is typed "
                                   f"times 100 (0.035 is 3.5, or 3.5%).", malformed=True)
        self.attempts += 1
        if self.accepts(value):
            self.solved = True
            return Feedback(True, f"Right: {self.show(self.answer)}.")
        wrong = self.attempts - 1
        if self.attempts >= self.reveal_after:
            return Feedback(False, f"Not yet. The answer is {self.show(self.answer)}; go back "
                                   f"over how it is found, then try the next one.")
        way = "too high" if value > self.answer else "too low"
        hint = self.hints[min(wrong, len(self.hints) - 1)] if self.hints else ""
        return Feedback(False, f"Not yet: {self.show(value)} is {way}." +
                        (f" Hint: {hint}" if hint else ""))
