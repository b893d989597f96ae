"""The time control every lesson shares: Step · Play (with speed) · Run to end · round counter
... Reset (:class:`TimeControls`), and the "Projector mode" button."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from .knobs import (
    RealFloatSlider,
    RealFloatText,
    clamp_sentence,
    format_value,
    link_pair,
    quote_value,
)
from .reports import Reports

__all__ = ["RESET_COLOUR", "RESET_MESSAGE", "TimeControls", "projector_toggle"]

#: What Reset says: it rewinds the run and keeps the knobs.
RESET_MESSAGE = "Reset: back to round 0, before the shock; the knobs stay as they are."
#: The Reset button's colour: Okabe-Ito's vermillion darkened for white text (5.2:1).
RESET_COLOUR = "#B34F00"


def projector_toggle() -> widgets.ToggleButton:
    """The "Projector mode" button every explorer shows (its owner observes ``value``)."""
    return widgets.ToggleButton(
        value=False, description="Projector mode", icon="desktop",
        tooltip="Projector mode: bigger text, thicker lines, bigger markers and darker colours, "
                "readable on a projector or in a bright room; press again for the normal look",
        layout={"width": "auto"})


class TimeControls(Reports, widgets.HBox):
    """Step · Play (with speed) · Run to end · round counter ... Reset, the same in every lesson.

    ``tick`` counts the ticks of a playing Play, each one a step: its owner observes it
    (``time.observe(callback, names="tick")``) and steps. A tick the browser sent after Play
    was stopped (by Reset, Run to end or a control) is not counted.
    """

    tick = traitlets.Int(0, read_only=True,
                         help="Ticks of a playing Play so far (each one a step); observe it")

    def __init__(self):
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          button_style="primary",
                                          tooltip="Play one round (in phase mode: one stage)")
        # ipywidgets' Play draws its play/pause and stop buttons as bare icons, with no text,
        # title or aria-label (PlayView.render in @jupyter-widgets/controls 8), and no trait
        # reaches them. So Play stays (its browser-side timer sends the ticks) but hidden, and
        # a labelled toggle button plays and pauses it; Reset and Run to end stop it.
        self.play = widgets.Play(value=0, min=0, max=10**9, interval=700, show_repeat=False,
                                 description="Play", tooltip="Play / pause: step automatically",
                                 layout={"display": "none"})
        self.play_button = widgets.ToggleButton(
            value=False, description="Play", icon="play",
            tooltip="Play: step automatically at the speed set beside it; press again to pause",
            layout={"width": "auto"})
        self._play_link = widgets.link((self.play_button, "value"), (self.play, "playing"))
        self._play_disabled = widgets.dlink((self.play, "disabled"),
                                            (self.play_button, "disabled"))
        self.speed = RealFloatSlider(value=1.5, min=0.5, max=8.0, step=0.5,
                                     description="Speed (steps/s)", readout_format=".1f",
                                     tooltip="How many steps Play takes per second",
                                     style={"description_width": "110px"},
                                     layout={"width": "300px"})
        self.speed_box = RealFloatText(value=1.5, min=0.5, max=8.0, step=0.5,
                                       description="Speed (steps/s)",
                                       tooltip="How many steps Play takes per second",
                                       layout={"width": "70px"})
        self.speed_box.style.description_width = "0px"
        self.speed.readout = False
        self.speed.grid = self.speed_box.grid = 0.5
        #: The speed slider and its box kept equal: ``(jslink, link)``.
        self.speed_links = link_pair(self.speed, self.speed_box)
        self._init_reports()
        self.speed.refusal_callbacks = self.speed_box.refusal_callbacks = [
            lambda value, old: self.report(f"Speed: {quote_value(value)} is not a number of "
                                           f"steps per second, so it stays at "
                                           f"{format_value(old)}.")]
        self.speed_box.typed_callbacks = [
            lambda value, bound: bound is not None and self.report(
                f"Speed (steps/s): {clamp_sentence(value, bound, value > bound)}.")]
        self.play.observe(self.guard(self._playing_changed), names="playing")
        self.play.observe(self.guard(self._ticked), names="value")
        self.speed.observe(self.guard(self._speed_changed), names="value")
        self.run_button = widgets.Button(description="Run to end", icon="fast-forward",
                                         tooltip="Play every remaining round at once")
        self.counter = widgets.HTML("<b>Round –</b>", layout={"width": "190px"})
        # Not button_style="warning": its white on orange has a contrast of 2.7:1; this dark
        # vermillion has 5.2:1.
        self.reset_button = widgets.Button(description="Reset", icon="undo",
                                           style={"button_color": RESET_COLOUR,
                                                  "text_color": "#FFFFFF"},
                                           tooltip="Back to the market before the shock")
        spacer = widgets.Box(layout={"flex": "1 1 auto", "min_width": "40px"})
        super().__init__([self.step_button, self.play_button, self.play, self.speed,
                          self.speed_box,
                          self.run_button, self.counter, spacer, self.reset_button,
                          self.message],
                         layout={"align_items": "center", "flex_flow": "row wrap"})

    def _speed_changed(self, change):
        self.play.interval = int(round(1000 / change.new))

    def _playing_changed(self, change) -> None:
        """The play button says what pressing it will do: Play, or Pause while playing."""
        self.play_button.description = "Pause" if change.new else "Play"
        self.play_button.icon = "pause" if change.new else "play"

    def _ticked(self, change) -> None:
        # Play's value moves on each tick of its browser-side timer. A tick the browser sent
        # before Play was stopped arrives late, and stop() rewinds the value: only a playing
        # Play moving forward ticks.
        if self.play.playing and change.new > change.old:
            self.set_trait("tick", self.tick + 1)

    def stop(self) -> None:
        """Stop Play and rewind it, so that it works at once when pressed again (the rewind is
        no tick: Play is stopped first)."""
        self.play.playing = False
        self.play.value = 0
