"""Projector mode for a whole explorer: its charts' figures change in Python (see
:meth:`marginloops.ui.chartkit.Chart.set_projector`), its text through a class on the root."""

from __future__ import annotations

from . import style

__all__ = ["ProjectorMode"]


class ProjectorMode:
    """Projector mode for an explorer (a widget Box with a ``projector_toggle`` button and a
    ``_charts()`` method): its charts' figures change in Python, its text through the class
    :data:`style.PROJECTOR_CLASS` on the root, which the stylesheet styles."""

    @property
    def projector(self) -> bool:
        """Whether projector mode is on (the "Projector mode" button is pressed)."""
        return self.projector_toggle.value

    def set_projector(self, on: bool) -> None:
        """Projector mode on or off: bigger text, thicker lines and bigger markers, black axes,
        darker stand-ins for the palette's light colours (the button follows)."""
        for chart in self._charts():
            chart.set_projector(on)
        if on:
            self.add_class(style.PROJECTOR_CLASS)
        else:
            self.remove_class(style.PROJECTOR_CLASS)
        self.projector_toggle.value = bool(on)
