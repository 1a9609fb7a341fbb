"""Loss landscapes of a run: the loss over a 1-D or 2-D slice of parameter space around its
parameters, with its trajectory projected onto the slice (docs/landscape.md).

``landscape_of_run(run_dir, ...) -> Landscape``, ``write_landscape(ls, out_dir)`` (.npz + .png),
``read_landscape(path)``; the pieces: ``directions`` (named and filter-normalised random
directions, explicit vectors, the projection), ``pca`` (planes fitted to the run's snapshots:
pca, trajectory), ``surface.grid_loss`` (fast kernel or generic path), ``kernel``.
"""

from .run import AROUND, Landscape, landscape_of_run, read_landscape, write_landscape

__all__ = ["AROUND", "Landscape", "landscape_of_run", "read_landscape", "write_landscape"]
