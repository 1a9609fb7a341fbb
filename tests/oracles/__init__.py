"""NumPy oracles the tests trust: cells.py (one layer of each cell), model.py (readouts, losses,
stacks, architectures; the vanilla RNN in both forms). Nothing here imports rnnctl."""
