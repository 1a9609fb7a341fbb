"""The model: named parameters over one flat vector, init, and the cells' kernels.

    layout.py    the flat vector's layout (name -> offset, shape) and grow-only scratch buffers
    cells.py     Cell objects, the targets of rnnctl.registry.CELLS: gates, parameters, buffers,
                 kernels, and validating wrappers in front of the kernels
    stack.py     one stack of layers of one cell: forward and BPTT layer by layer
    inputs.py    losses, architectures, and the checks of u, targets and states
    generate.py  free-running generation (one_to_many, encoder_decoder)
    network.py   Model, resolve_arch, model_from_config

    >>> from rnnctl.model import Model
    >>> m = Model(6, 4, 50, cell="lstm"); m.init_params(rng, "orthogonal")
    >>> E, grads = m.loss_and_grad(u, target)
"""

from rnnctl.registry import CELLS

from .cells import FORMS, GRU, LSTM, RNN, Cell
from .inputs import ARCHS, GENERATING, LOSSES, SCORED
from .layout import Buffers, Layout
from .network import Model, model_from_config, resolve_arch

__all__ = ["Model", "model_from_config", "resolve_arch", "Layout", "Buffers", "Cell", "RNN", "LSTM",
           "GRU", "CELLS", "ARCHS", "GENERATING", "LOSSES", "SCORED", "FORMS"]
