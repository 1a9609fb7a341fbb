"""The thresholds of the diagnosis, each named once. docs/diagnosis.md states why each has its
value; ``rnnctl.diagnose(run_dir, spike_factor=20, ...)`` overrides any of them."""

from __future__ import annotations

from dataclasses import dataclass, fields

#: A gradient norm above this multiple of the run's median norm is a spike.
SPIKE_FACTOR = 10.0
#: The norm's level grew by more than this multiple of its level at the start: a runaway.
GROWTH_FACTOR = 10.0
#: The loss rose above this multiple of a reference level: it ran away (from its start or best).
LOSS_RISE = 2.0
#: Updates after a spike over which the loss's response is measured (and before, as reference).
RESPONSE_UPDATES = 50
#: Updates at the start of a run whose median norm and loss are its starting level: few, since an
#: explosion can set in within ten updates (text with a tanh cell: from update 2).
START_UPDATES = 3
#: A validation metric worse than its best by this fraction of the best ran away (diverged) ...
VALID_RUNAWAY = 0.5
#: ... and by more than this fraction while training improved, the model overfits.
OVERFIT_MARGIN = 0.02
#: The transform fired on at least this fraction of updates: it fires on almost every update.
ALWAYS_FIRES = 0.9
#: The loss's best level (the lowest window median) is within this fraction of its starting or
#: chance level: the run did not learn (and the error "stays near chance" for vanishing).
LEARNED_DROP = 0.1
#: Fewer updates than this and the learning rules stay silent (too little to read).
MIN_UPDATES = 20
#: The error signal falls by at least this many orders of magnitude from the last step back to the
#: first (‖∂E/∂x_1‖ / ‖∂E/∂x_T‖ <= 10^-VANISH_ORDERS): it vanishes.
VANISH_ORDERS = 3.0
#: σ'(a) below this fraction of its largest value (tanh: |h| > 0.975) is a saturated entry; a
#: gate value within this distance of 0 or 1 is stuck.
SAT_DERIVATIVE = 0.05
#: A unit (or gate unit) saturated on at least this fraction of its steps is stuck ...
SAT_STEPS = 0.9
#: ... and at least this fraction of stuck units makes the finding.
SAT_UNITS = 0.5
#: Sequences drawn from the run's task to measure saturation on.
SAT_SEQUENCES = 8
#: Rows of the backprop norms read (evenly spaced): enough for a median, fast for 300k updates.
BACKPROP_ROWS = 2000
#: Windows the trace is cut into for its levels (window medians), each of at least WINDOW_ROWS rows.
WINDOWS = 50
WINDOW_ROWS = 10


@dataclass(frozen=True)
class Limits:
    spike_factor: float = SPIKE_FACTOR
    growth_factor: float = GROWTH_FACTOR
    loss_rise: float = LOSS_RISE
    response_updates: int = RESPONSE_UPDATES
    start_updates: int = START_UPDATES
    valid_runaway: float = VALID_RUNAWAY
    overfit_margin: float = OVERFIT_MARGIN
    always_fires: float = ALWAYS_FIRES
    learned_drop: float = LEARNED_DROP
    min_updates: int = MIN_UPDATES
    vanish_orders: float = VANISH_ORDERS
    sat_derivative: float = SAT_DERIVATIVE
    sat_steps: float = SAT_STEPS
    sat_units: float = SAT_UNITS
    sat_sequences: int = SAT_SEQUENCES
    backprop_rows: int = BACKPROP_ROWS
    windows: int = WINDOWS

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
