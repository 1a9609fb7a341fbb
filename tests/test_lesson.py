"""rnnctl.lesson's sentences and page: every number a caption states comes from the run data it is
given (synthetic runs here, with numbers no real run would produce by chance), the roles and
labels come from the configs, the slice's plane holds the start and both ends, and the page is one
self-contained HTML file with its images inline."""

import base64
import re
from pathlib import Path

import numpy as np
import pytest

from rnnctl.config import config_from_dict
from rnnctl.lesson import story
from rnnctl.lesson.page import captions, figure_html, intro
from rnnctl.lesson.runs import LessonRun, label_of, role_of
from rnnctl.lesson.slice import extent, plane
from rnnctl.report.html import _page

REPO = Path(__file__).resolve().parents[1]


def cfg(method="none", threshold=1.0, omega=0.0, cell="rnn"):
    return config_from_dict({"seed": 3, "task": {"name": "temporal_order", "length": 50},
                             "model": {"cell": cell, "hidden": 7},
                             "train": {"steps": 900, "gradient": {"method": method, "threshold": threshold},
                                       "regularizer": {"omega": omega}},
                             "eval": {"every": 100, "sequences": 321}})


def synth(method="none", threshold=1.0, omega=0.0, cell="rnn", info=None, norms=None, after=None):
    c = cfg(method, threshold, omega, cell)
    n = len(norms) if norms is not None else 4
    before = np.asarray(norms if norms is not None else [1.0] * n, float)
    aft = np.asarray(after if after is not None else before, float)
    trace = {"update": np.arange(1, n + 1, dtype=float), "norm_before": before, "norm_after": aft,
             "fired": (aft != before).astype(float), "loss": np.ones(n)}
    return LessonRun(role_of(c), label_of(c), Path(f"/runs/{method}{omega}{cell}"), c,
                     {"status": "completed", "updates": 900, "final_error": 0.4321, "wall_time": 12.5,
                      **(info or {})},
                     method, threshold if method in ("norm", "value") else None, trace=trace)


def test_roles_and_labels_come_from_the_config():
    assert [role_of(cfg(*a)) for a in [("none",), ("norm",), ("value", 0.01), ("norm", 1.0, 4.0),
                                        ("norm", 1.0, 0.0, "lstm")]] == ["none", "norm", "value", "omega", "lstm"]
    assert label_of(cfg("value", 0.01)) == "value clipping c=0.01"
    assert label_of(cfg("norm", 2.0, 4.0)) == "norm scaling c=2 + Ω α=4 (SGD-CR)"
    assert label_of(cfg("norm", 1.0, 0.0, "lstm")) == "LSTM, norm scaling c=1"


def test_number_formatting():
    assert story.num(31234.0) == "3.12e4" and story.num(0.000123) == "1.23e-4" and story.num(1e10) == "1e10" and story.num(12.84) == "12.8"
    assert story.pct(0.0075) == "0.75%" and story.cap("norm scaling + Ω") == "Norm scaling + Ω"


def test_the_norm_sentence_states_the_runs_own_numbers():
    none = synth("none", norms=[0.5, 31234.0, 2.0, 1.0], info={"status": "diverged", "diverged_at": 812})
    norm = synth("norm", norms=[0.5, 777.0, 3.0, 0.25], after=[0.5, 1.0, 1.0, 0.25],
                 info={"status": "succeeded", "success_update": 640})
    text = story.norms_caption([none, norm])
    assert "No clipping: the largest gradient norm was 3.12e4 (update 2)" in text
    assert "diverged (NaN/Inf) at update 812" in text
    assert "777 (update 2)" in text and "at most 1 after it" in text and "changed 50% of the updates" in text
    assert "solved the task at update 640" in text
    done = synth("value", 0.01, norms=[4.0, 5.0], after=[0.3, 0.3])
    assert "still misclassifying 43.2% of the test sequences" in story.norms_caption([done])


def test_the_backprop_sentence_measures_the_fall_over_the_lag():
    run = synth("none")
    T = 10
    first = 3.0 * 0.5 ** np.arange(T + 1)[::-1]          # over k: x_T = 3, x_0 = 3/1024
    middle = 2.0 * 0.1 ** np.arange(T + 1)[::-1]          # falls by 1e10
    last = np.linspace(2.0, 1.0, T + 1)                   # grows by 2 going back
    run.backprop = (np.array([10, 20, 30]), np.stack([first, middle, last]))
    text = story.backprop_caption([run])
    assert "10 steps back" in text and "fell by a factor of 1.02e3 at update 10" in text
    assert "fell by a factor of 1e10 at update 20 (its strongest fall)" in text
    assert "grew by a factor of 2 at update 30" in text
    assert "No run recorded" in story.backprop_caption([synth("norm")])


def test_the_spectral_sentence_counts_the_runs_above_the_bound():
    a, b, lstm = synth("none"), synth("norm"), synth("norm", cell="lstm")
    a.init_spectral = {"W_rec": {"sv_max": 1.234, "radius": 0.9}}
    a.metrics = [{"update": 100, "spectral": {"W_rec": {"sv_max": 2.61}}, "bound": 1.0}]
    b.metrics = [{"update": 100, "spectral": {"W_rec": {"sv_max": 0.876}}, "bound": 1.0}]
    lstm.metrics = [{"update": 100, "spectral": {"W_rec.f": {"sv_max": 9.0}}, "bound": 1.0}]
    text = story.spectral_caption([a, b, lstm])
    assert "no clipping 1.23 → 2.61" in text and "norm scaling c=1 0.876 → 0.876" in text
    assert "1 of 2 vanilla runs ended above it" in text and "9" not in text


def test_the_length_sentence_lists_the_solved_lengths():
    a, b = synth("norm"), synth("none")
    a.lengths = [{"length": 25, "error": 0.004}, {"length": 50, "error": 0.0}, {"length": 200, "error": 0.567}]
    b.lengths = [{"length": None, "problem": "cannot be used"}]
    text = story.lengths_caption([a, b], 0.01)
    assert "under 1% at lengths 25, 50, 56.7% wrong at length 200" in text and "cannot be used" in text


def test_the_landscape_sentence_measures_the_largest_move():
    a = synth("none")
    a.snapshots = (np.array([0, 50, 100]), np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.5]]))
    text = story.landscape_caption({"the shared start": 1.386, "the end": 0.0123}, [a],
                                   {a.label: np.array([0.0, 0.25, 0.0])})
    assert "the shared start 1.39, the end 0.0123" in text
    assert "no clipping 5 (ending at update 50)" in text and "no clipping up to 0.25" in text


def test_the_one_unit_sentence_states_the_two_descents():
    traj = {"start": [4.5, -3.25], "initial_error": 0.4285, "largest_step": 14.06, "largest_step_at_update": 44,
            "grad_norm_there": 46.9, "distance_from_start": 14.3, "final_error": 0.0899, "threshold": None,
            "step_bound": None}
    clipped = {**traj, "threshold": 0.1, "step_bound": 0.03, "distance_from_start": 0.777, "final_error": 1.2e-6}
    text = story.one_unit_caption({"T": 50, "train": {"lr": 0.3, "updates": 60, "plain": traj, "clipped": clipped}})
    assert "(w, b) = (4.5, -3.25), error 0.428" in text and "14.1, at update 44 (‖g‖ = 46.9)" in text
    assert "ended 14.3 from the start at error 0.0899" in text
    assert "c = 0.1 (steps ≤ 0.03) it ended 0.777 from the start at error 1.2e-6" in text


def test_the_plane_holds_the_start_and_both_ends():
    from rnnctl.landscape.directions import project
    rng = np.random.default_rng(0)
    theta0, center, far = rng.normal(size=(3, 40))
    d = plane(theta0, center, far, None, rng)
    coords, residual = project(np.stack([theta0, center, far]), center, d)
    np.testing.assert_allclose(coords[:2], [[-1, 0], [0, 0]], atol=1e-10)
    np.testing.assert_allclose(residual, 0, atol=1e-10)
    assert abs(d[0] @ d[1]) < 1e-9 and np.isclose(np.linalg.norm(d[1]), np.linalg.norm(d[0]))
    a = extent(np.array([-1.0, 0.3]), 9)
    assert a[0] < -1 and a[-1] > 0.3 and len(a) == 9


def test_the_page_is_one_file_with_inline_images_and_no_external_reference():
    runs = [synth("none"), synth("norm", info={"status": "succeeded", "success_update": 300})]
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    caps = captions(runs, None)
    body = [f"<p>{intro(runs, 1)}</p>", *(figure_html(png, k, v) for k, v in caps.items())]
    page = _page("lesson", body)
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(imgs) == 4 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert base64.b64decode(imgs[0].split(",", 1)[1]) == png
    assert not re.search(r'(href|src)="(?!data:)', page) and "http" not in page and "<script" not in page
    assert "2 runs from the same seed (3)" in page and "at most 900 updates" in page and "321 fresh" in page


def test_the_shipped_lesson_spec_has_the_five_roles():
    from rnnctl.sweep import expand, load_sweep
    jobs = expand(load_sweep(REPO / "configs" / "lesson" / "lesson.yaml", ["runs_dir=/nonexistent"]))
    assert [role_of(j.config) for j in jobs] == ["none", "norm", "value", "omega", "lstm"]
    assert {j.config.seed for j in jobs} == {0} and all(j.config.log.params_every > 0 for j in jobs)
    assert {j.config.task.length for j in jobs} == {50}


@pytest.mark.parametrize("bad", [{"grid": 2}, {"lengths": ()}, {"sequences": 0}])
def test_bad_options_are_config_errors(bad):
    from rnnctl.errors import ConfigError
    from rnnctl.lesson import LessonOptions
    from rnnctl.lesson.build import check_options
    with pytest.raises(ConfigError):
        check_options(LessonOptions(**bad))
