"""What the lessons in ``lessons/`` need beyond the public API: each lesson's exercises (built
from the model, so an answer cannot drift from it) and the few helpers a lesson calls, kept here
so the notebooks stay thin and everything they rely on is unit-tested.

One module per lesson: ``lesson00`` ... ``lesson08``. Each has ``exercises()``, returning the
lesson's :class:`marginloops.exercises.Exercise` objects in the order the lesson asks them.
"""
