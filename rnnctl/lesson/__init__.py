"""A lesson in one command: five runs of one short temporal-order problem (no clipping, norm
scaling, value clipping, Ω with norm scaling, an LSTM) trained as a sweep, and one HTML page that
tells the exploding and vanishing gradient story of Pascanu et al. (2013) in figures, each with a
sentence computed from the runs (docs/lesson.md).

``run_lesson(spec, overrides, out, LessonOptions(...))``; the pieces: ``runs`` (roles, labels, what
each run's folder holds), ``story`` (the sentences), ``slice`` (the landscape plane), ``page``.
"""

from .build import LessonOptions, LessonResult, run_lesson

__all__ = ["LessonOptions", "LessonResult", "run_lesson"]
