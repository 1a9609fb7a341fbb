"""Property test (issue 14, item 3): over generated YAML documents (anchors and aliases, deep
nesting, tags, odd scalars), override strings and paths, load_config, load_sweep and
`rnnctl train X --dry-run` raise nothing but ConfigError (the CLI: exit 0 or 2, never a
traceback), and every call returns within a second. Counts are printed with -s."""

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.config import check_runnable, load_config
from rnnctl.errors import ConfigError

runner = CliRunner()
STATS = {"cases": 0, "other": [], "slowest": 0.0}
LIMIT = 1.0
KEYS = ["seed", "name", "task", "task.name", "task.length", "model.hidden", "train.steps", "grid",
        "seeds", "base", "early_stop", "early_stop.after", "train.gradient.threshold", "zip", "a", "1", "?"]
SCALARS = st.sampled_from(["temporal_order", "1e3", "!!int 1e3", "!!float x", "!!python/name:os.system",
                           "!!binary aGk=", "!!timestamp 2020-13-45", "*a", "&a 1", "~", "null", "yes",
                           "0x1F", "0o17", "1_000", "-.inf", ".nan", "1:30", "2020-01-01", "9" * 5000,
                           "'q'", '"\\u00e9"', "[", "]", "{", "}", ":", "- x", "<<: *a", "!x y", "\t",
                           "1e-320", "-1", "0", "100000", "10000000000000000000000", "!!str 5", ""])
WORDS = st.one_of(SCALARS, st.text(max_size=12), st.integers(-10**30, 10**30).map(str))


def _node(depth: int):
    if depth <= 0:
        return WORDS
    sub = _node(depth - 1)
    return st.one_of(
        WORDS,
        st.lists(sub, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(KEYS), sub), max_size=4).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(st.sampled_from(["&a ", "&b ", "*a", "*b", "!!map ", "!!seq ", "!!str ", ""]), sub).map(
            lambda t: t[0] + t[1]),
        st.integers(1, 300).map(lambda n: "[" * n + "]" * n),
    )


DOCS = st.one_of(
    st.lists(st.tuples(st.sampled_from(KEYS), _node(3)), max_size=6).map(
        lambda kv: "".join(f"{k}: {v}\n" for k, v in kv)),
    _node(3),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.just("task: {name: temporal_order, length: 20}\n"),
)
OVERRIDES = st.lists(st.one_of(
    st.tuples(st.sampled_from(KEYS), _node(2)).map(lambda t: f"{t[0]}={t[1]}"),
    st.text(max_size=20)), max_size=3)


def timed(fn, *args):
    t = time.perf_counter()
    try:
        fn(*args)
    except ConfigError:
        pass
    except Exception as e:  # noqa: BLE001 (what the property forbids)
        STATS["other"].append(f"{fn.__name__}{args!r:.200}: {type(e).__name__}: {e!s:.200}")
    dt = time.perf_counter() - t
    STATS["cases"] += 1
    STATS["slowest"] = max(STATS["slowest"], dt)
    assert dt < LIMIT, (fn.__name__, args, dt)


def _config(path, overrides):
    check_runnable(load_config(path, overrides))


def _cli(path, overrides):
    r = runner.invoke(app, ["train", str(path), *overrides, "--dry-run"])
    if r.exit_code not in (0, 2) or "Traceback" in r.output or r.exception and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"exit {r.exit_code}: {r.output[-300:]!r} {r.exception!r}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    os.mkfifo(d / "fifo")
    (d / "runs").mkdir()
    yield d
    print(f"\nfuzz: {STATS['cases']} calls, {len(STATS['other'])} exceptions other than ConfigError, "
          f"slowest {STATS['slowest']:.3f} s")
    for line in STATS["other"][:20]:
        print("  ", line)


@settings(max_examples=300, deadline=3000, suppress_health_check=list(HealthCheck))
@given(doc=DOCS, overrides=OVERRIDES)
def test_documents_and_overrides_give_only_config_errors(folder, doc, overrides):
    path = folder / "c.yaml"
    path.write_bytes(doc.encode("utf-8", errors="replace"))
    overrides = [*overrides, f"runs_dir={folder / 'runs'}"]
    timed(_config, path, overrides)
    timed(sw.load_sweep, path, overrides)
    timed(_cli, path, overrides)
    assert STATS["other"] == []


@settings(max_examples=30, deadline=3000, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(["fifo", "/dev/urandom", "/dev/null", "/dev/zero", ".", "missing.yaml",
                             "a\0b", "x" * 5000, "/proc/self/mem", "/"]),
       overrides=OVERRIDES)
def test_paths_give_only_config_errors(folder, name, overrides):
    path = Path(name) if name.startswith("/") else folder / name
    timed(_config, path, overrides)
    timed(sw.load_sweep, path, overrides)
    timed(_cli, path, overrides)
    assert STATS["other"] == []
