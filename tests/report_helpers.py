"""Synthetic run and sweep folders with known numbers, shared by the report and plot tests
(tests/test_report.py, tests/test_plots.py). Written file by file, as rnnctl writes them, so that
the tests also pin the run-folder format the report reads."""

import io
import json
from pathlib import Path

import numpy as np
import yaml

from rnnctl.config import config_from_dict, dump_config


# method, length, seed -> (status, success_update or None, clip_rate, norm_max)
OUTCOMES = {
    ("none", 20, 0): ("succeeded", 500, 0.0, 30.0),
    ("none", 20, 1): ("completed", None, 0.0, 40.0),
    ("none", 20, 2): ("succeeded", 700, 0.0, 20.0),
    ("norm", 20, 0): ("succeeded", 250, 0.5, 100.0),
    ("norm", 20, 1): ("succeeded", 300, 0.6, 90.0),
    ("norm", 20, 2): ("succeeded", 450, 0.7, 80.0),
    ("none", 50, 0): ("diverged", None, 0.0, 1e6),
    ("none", 50, 1): ("completed", None, 0.0, 500.0),
    ("none", 50, 2): ("diverged", None, 0.0, 1e7),
    ("norm", 50, 0): ("succeeded", 1000, 0.8, 200.0),
    ("norm", 50, 1): ("completed", None, 0.9, 300.0),
    ("norm", 50, 2): ("succeeded", 2000, 0.4, 250.0),
}
THRESHOLD = {"none": 1.0, "norm": 2.0}      # zipped with the method, as in clipping_vs_length


def config_text(method, length, seed, **extra):
    data = {"name": "synth", "seed": seed, "task": {"name": "temporal_order", "length": length},
            "train": {"steps": 3000, "gradient": {"method": method, "threshold": THRESHOLD[method]}},
            "eval": {"every": 250}}
    for k, v in extra.items():
        node = data
        *head, last = k.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = v
    return dump_config(config_from_dict(data))


def write_run(path: Path, method="norm", length=20, seed=0, status="succeeded", success_update=250,
              clip_rate=0.5, norm_max=10.0, updates=None, trace=True, extra=None):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(config_text(method, length, seed, **(extra or {})))
    updates = updates or (success_update or 3000)
    info = {"status": status, "name": "synth", "seed": seed, "config_hash": path.name,
            "wall_time": updates / 100, "updates": updates, "final_loss": 0.05 if success_update else 1.3,
            "final_error": 0.0 if success_update else 0.7, "success": success_update is not None,
            "success_update": success_update, "clip_rate": clip_rate, "train_loss": 1.0,
            "norm_max": norm_max, "norm_median": norm_max / 10, "threshold": None, "skipped_updates": None,
            "diverged_at": updates + 1 if status == "diverged" else None, "ms_per_update": 1.0,
            "message": "non-finite loss" if status == "diverged" else ""}
    (path / "run.json").write_text(json.dumps(info))
    if trace:
        (path / "trace.csv").write_text("update,loss,norm_before,norm_after,fired,length\n1,1.3,0.5,0.5,0,20\n")
    (path / "metrics.jsonl").write_text("")
    return path



def make_sweep_dir(tmp_path: Path) -> Path:
    """A sweep folder as rnnctl sweep writes it, with the outcomes of OUTCOMES."""
    folder = tmp_path / "runs" / "synth"
    folder.mkdir(parents=True)
    jobs = []
    for i, ((m, L, s), (status, su, cr, nm)) in enumerate(OUTCOMES.items()):
        rid = f"{i:016x}"
        write_run(folder / rid, m, L, s, status, su, cr, nm)
        jobs.append({"job": i, "run_id": rid, "values": {"train.gradient.method": m,
                     "train.gradient.threshold": THRESHOLD[m], "task.length": L, "seed": s}})
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    spec = {"name": "synth", "base": {"task": {"name": "temporal_order", "length": 20}},
            "overrides": ["train.steps=3000", "eval.every=250"],
            "zip": {"train.gradient.method": ["none", "norm"], "train.gradient.threshold": [1.0, 2.0]},
            "grid": {"task.length": [20, 50]}, "seeds": 3}
    (folder / "sweep.yaml").write_text(yaml.safe_dump(spec))
    return folder



def by_values(groups, **want):
    (g,) = [g for g in groups if all(g["values"][k] == v for k, v in want.items())]
    return g



def png_ok(path_or_bytes, min_kb=8):
    import matplotlib.image as mpimg
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > min_kb * 1024
    img = mpimg.imread(io.BytesIO(data), format="png")
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500
    assert float(img[..., :3].std()) > 0.02          # not a uniform image
    return img



def make_rich_run(tmp_path: Path) -> Path:
    """A run folder with everything a figure reads: trace, metrics, backprop norms, probes."""
    from rnnctl.store import GrowingNpy
    rng = np.random.default_rng(0)
    path = write_run(tmp_path / "runs" / "one" / "20260101-000000-abcd", "norm", 30, 0, "succeeded", 3600,
                     updates=4000)
    n = 4000
    u = np.arange(1, n + 1)
    before = np.exp(rng.normal(0, 1, n)) * np.where(u > 1500, 20, 0.3)
    after = np.minimum(before, 2.0)
    loss = 1.4 * np.exp(-u / 1500) + 0.01 * rng.random(n)
    lines = ["update,loss,norm_before,norm_after,fired,length,norm.W_rec"]
    lines += [f"{i},{lo:.6g},{b:.6g},{a:.6g},{int(b > 2)},30,{b / 2:.6g}" for i, lo, b, a in zip(u, loss, before, after)]
    (path / "trace.csv").write_text("\n".join(lines) + "\n")
    metrics = [{"update": k, "loss": float(1.4 * np.exp(-k / 1500)), "error": max(0.75 - k / 4000, 0.0),
                "train_loss": 1.0, "clip_rate": 0.5, "max_norm": 10.0, "lr": 0.01, "time": k / 100,
                "spectral": {"W_rec": {"sv_max": 0.9 + k / 8000, "radius": 0.8 + k / 10000}}, "bound": 1.0}
               for k in range(250, n + 1, 250)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    bp = GrowingNpy.create(path / "backprop_norms.npy", (1, 31), np.float32)
    bu = GrowingNpy.create(path / "backprop_updates.npy", (), np.int64)
    k = np.arange(31)
    rows = np.array([[0.5 * (0.8 + t / n) ** (30 - k)] for t in u], np.float32)
    rows[::7, 0, 25:] = np.nan                                  # shorter batches
    bp.append(rows)
    bu.append(u)
    (path / "probes").mkdir()
    T = 30
    for upd in (1, 2000, 4000):
        C = np.full((T, T + 1), np.nan)
        for t in range(T):
            C[t, :t + 2] = 0.0
        C[-1] = 0.3 * 0.9 ** (T - np.arange(T + 1))
        J = np.full((T + 1, T + 1), np.nan)
        for t in range(T + 1):
            J[t, :t + 1] = 0.95 ** (t - np.arange(t + 1))
        np.savez(path / "probes" / f"update_{upd:07d}.npz", contributions=C, jacobian_norms=J,
                 backprop_norms=C[-1])
    np.savez(path / "params_init.npz", W_rec=rng.normal(0, 0.1, (8, 8)))
    return path



def legend_covers(fig) -> list[str]:
    """What a legend of ``fig`` hides: every drawn point of a line or a scatter (lines sampled
    every 2 pixels between their vertices) inside its axes that falls inside the box of a legend.
    [] when no legend covers any data."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [lg.get_window_extent(renderer) for lg in [*fig.legends, *(a.get_legend() for a in fig.axes)] if lg]
    hits = []
    for ax in fig.axes:
        clip = ax.get_window_extent(renderer)
        for artist in [*ax.lines, *ax.collections]:
            if hasattr(artist, "get_xydata"):
                pts, tf = np.asarray(artist.get_xydata(), float), artist.get_transform()
                joined = artist.get_linestyle() not in ("None", "none", "")
            elif hasattr(artist, "get_offsets") and len(artist.get_offsets()):
                pts, tf, joined = np.asarray(artist.get_offsets(), float), artist.get_offset_transform(), False
            else:
                continue
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            if not len(pts):
                continue
            disp = tf.transform(pts)
            if joined and len(disp) > 1:     # the segments between the vertices, every 2 pixels
                seg = [np.linspace(a, b, max(2, int(np.hypot(*(b - a)) / 2))) for a, b in zip(disp[:-1], disp[1:])]
                disp = np.concatenate(seg)
            disp = disp[(disp[:, 0] >= clip.x0) & (disp[:, 0] <= clip.x1) & (disp[:, 1] >= clip.y0) & (disp[:, 1] <= clip.y1)]
            for box in boxes:
                inside = (disp[:, 0] > box.x0) & (disp[:, 0] < box.x1) & (disp[:, 1] > box.y0) & (disp[:, 1] < box.y1)
                if inside.any():
                    hits.append(f"{artist.get_label()!r}: {int(inside.sum())} points under a legend at {box.bounds}")
    return hits


def legend_entries_alike(fig) -> list[str]:
    """Labels of legend entries drawn exactly alike (colour, line style and width, marker) in one
    legend: a reader cannot tell them apart."""
    out = []
    for lg in [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend())]:
        seen = {}
        for h, txt in zip(lg.legend_handles, lg.get_texts()):
            if not hasattr(h, "get_linestyle") or not hasattr(h, "get_marker"):
                continue
            key = (str(h.get_color()), h.get_linestyle(), h.get_linewidth(), h.get_marker())
            if key in seen:
                out.append(f"{seen[key]!r} and {txt.get_text()!r}")
            seen[key] = txt.get_text()
    return out
