"""The circuit breaker: trading halts for some rounds after a big move; while it is halted,
nobody is liquidated and market makers restore ``recovery`` of the depth consumed so far."""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import check_int, check_number
from ..params import Control, Param
from . import Mechanism, RecordField, TableColumn

BREAKER_REFERENCES = ("round", "start")


@dataclass(frozen=True)
class CircuitBreaker:
    """Halt trading for ``halt_rounds`` rounds when the price moves more than ``move``.

    Parameters
    ----------
    move : float
        The trip level, a fraction in (0, 1): 0.05 halts after a move of more than 5%.
    halt_rounds : int
        Rounds with no trading (and no liquidation) once it trips, in [1, 100].
    reference : {"round", "start"}
        "round": the move within one round; "start": the move from the reference price, which is
        the starting price and, after each halt, the price trading resumes at.
    """

    move: float
    halt_rounds: int = 2
    reference: str = "round"

    def __post_init__(self):
        object.__setattr__(self, "move", check_number("breaker move", self.move, lo=0, hi=1,
                                                      lo_open=True, hi_open=True))
        object.__setattr__(self, "halt_rounds",
                           check_int("breaker halt_rounds", self.halt_rounds, lo=1, hi=100))
        if self.reference not in BREAKER_REFERENCES:
            raise ValueError(f"breaker reference must be one of {BREAKER_REFERENCES}, got "
                             f"{self.reference!r}")


class Breaker(Mechanism):
    name = "breaker"
    title = "circuit breaker"
    params = (
        Param("breaker_move", "number", None, lo=0.001, hi=0.5, optional=True, fraction=True,
              doc="None (no circuit breaker) or the move, a fraction in [0.001, 0.5], that "
                  "halts trading",
              control=Control(
                  "Halts and auctions", "Halts after a move of (%)",
                  "Trading halts when the price moves more than this", lo=0.5, hi=50.0,
                  step=0.5, per_unit=0.01, default=2.0, switch="circuit breaker",
                  switch_tooltip="Halt trading for a few rounds when the price moves too far: "
                                 "no trade and no liquidation while market makers restore depth",
                  says="circuit breaker on: halts after a move of {}%",
                  says_off="circuit breaker off", short="circuit breaker {}%")),
        Param("breaker_rounds", "whole", 2, lo=1, hi=100, doc="rounds a halt lasts, [1, 100]",
              control=Control("Halts and auctions", "Halt rounds", "How many rounds a halt lasts",
                              lo=1, hi=10, step=1, integer=True, under="breaker_move")),
        Param("breaker_reference", "choice", "round", choices=BREAKER_REFERENCES,
              doc='"round" (the move within a round) or "start" (from the price trading last '
                  'started or resumed at)',
              control=Control(
                  "Halts and auctions", "Move measured", "Which move trips the breaker",
                  kind="choice", under="breaker_move",
                  options=(("within a round", "round",
                            "The move from the start to the end of one round"),
                           ("from the last start", "start",
                            "The move from the price trading started or last resumed at")))),
    )
    cascade_kwargs = {"breaker": None}
    companions = ("recovery",)
    record_fields = (
        RecordField("halted", bool, False, "True when a circuit breaker halted trading this "
                    "round (no trade, no liquidation)"),
        RecordField("breaker_tripped", bool, False, "True when this round's move tripped the "
                    "circuit breaker"),
        RecordField("halt_rounds_left", int, 0, "halt rounds still to come after this one"),
    )

    table_columns = (TableColumn(
        "halted", "halted", lambda r, p: "yes" if r.halted else "no",
        lambda history: any(r.halted for r in history), after="liquidated"),)

    def __init__(self, breaker=None):
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ValueError(f"breaker must be a CircuitBreaker or None, got {breaker!r}")
        self.breaker = breaker

    @classmethod
    def from_scenario(cls, scenario) -> dict:
        return {"breaker": None if scenario.breaker_move is None else CircuitBreaker(
            scenario.breaker_move, scenario.breaker_rounds, scenario.breaker_reference)}

    @property
    def active(self) -> bool:
        return self.breaker is not None

    def reset(self, run) -> None:
        self.halt_left = 0
        self.reference = run.start_price

    def halts(self, run) -> bool:
        return self.halt_left > 0

    def halt(self, run, st) -> None:
        """A round with trading halted: no liquidation; market makers restore depth."""
        st.refilled = run.put_back(run.recovery * run.deficit)
        run.path.append(run.price)
        self.halt_left -= 1
        if self.halt_left == 0:
            self.reference = run.price  # the breaker measures from where trading resumes
        st.fill = run.venue.market_sell(0.0)
        st.pending = run.pending()  # dynamic margin can relax while the price stands still
        st.end = ("fixed_point" if st.pending == 0 else
                  "max_rounds" if run.round >= run.max_rounds else None)
        if st.end is not None:
            self.halt_left = 0
        st.halted = True

    def judge(self, run, st) -> None:
        base = st.p_before if self.breaker.reference == "round" else self.reference
        if abs(run.price / base - 1.0) > self.breaker.move:
            self.halt_left, st.tripped = self.breaker.halt_rounds, True

    def record(self, run, st) -> dict:
        return {"halted": st.halted, "breaker_tripped": st.tripped,
                "halt_rounds_left": self.halt_left}

    @staticmethod
    def round_sentence(rec) -> str | None:
        from ..narration import count, plural, price, units

        if not rec.halted:
            return None
        down = rec.direction == "down"
        text = (f"Round {count(rec.round)}: trading is halted by the circuit breaker, so nobody is "
                f"liquidated and the price stays at {price(rec.price_after)}; market makers put "
                f"back {units(rec.refilled)} of {'bids' if down else 'asks'}.")
        left = rec.halt_rounds_left
        return text + (f" The halt lasts {plural(left, 'more round')}." if left else
                       f" Trading resumes next round, with {plural(rec.pending, 'position')} "
                       f"waiting to be liquidated.")

    @staticmethod
    def sentence(rec) -> str:
        from ..narration import plural

        if not rec.breaker_tripped:
            return ""
        return (f" That move tripped the circuit breaker: trading halts for "
                f"{plural(rec.halt_rounds_left, 'round')}.")

    @staticmethod
    def stops_the_news(rec) -> bool:
        return rec.breaker_tripped

    @staticmethod
    def notes(rec) -> list[str]:
        return (["breaker trips"] if rec.breaker_tripped else []) + (
            ["halted"] if rec.halted else [])
