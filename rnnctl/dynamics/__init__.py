"""The one-unit recurrent network of Pascanu, Mikolov & Bengio (2013), Figure 6, as pure functions:
its error and exact gradient over a grid of (w, b) (``one_unit``), its fixed points and
bifurcations in closed form (``fixed``), gradient descent with and without rescaling
(``train_one_unit``), the figure configs (``config``) and the numbers behind the figures
(``figures``). ``rnnctl figures`` draws them (rnnctl.plots.dynamics)."""

from .fixed import (critical_x, fixed_points, fixed_points_along_b, saddle_node_b, separatrix_b,
                    wall_b)
from .one_unit import (OneUnitGrad, Trajectory, one_unit_error, one_unit_grad, one_unit_states,
                       sigmoid, train_one_unit)

__all__ = ["critical_x", "fixed_points", "fixed_points_along_b", "saddle_node_b", "separatrix_b",
           "wall_b", "OneUnitGrad", "Trajectory", "one_unit_error", "one_unit_grad",
           "one_unit_states", "sigmoid", "train_one_unit"]
