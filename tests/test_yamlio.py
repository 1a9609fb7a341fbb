"""rnnctl.yamlio: YAML with a line for every dotted key, shared by config files and sweep specs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rnnctl.errors import ConfigError
from rnnctl.yamlio import load_yaml

SPEC = textwrap.dedent("""\
    name: s
    base:
      task: {name: addition, length: 10}
    grid:
      model.hidden: [10, 20]
      train.gradient.method:
        - none
        - norm
    """)


def test_every_dotted_key_and_list_item_has_its_line():
    data, lines = load_yaml(SPEC, "spec.yaml")
    assert data["grid"]["train.gradient.method"] == ["none", "norm"]
    assert lines == {"name": 1, "base": 2, "base.task": 3, "base.task.name": 3, "base.task.length": 3,
                     "grid": 4, "grid.model.hidden": 5, "grid.model.hidden.0": 5,
                     "grid.model.hidden.1": 5, "grid.train.gradient.method": 6,
                     "grid.train.gradient.method.0": 7, "grid.train.gradient.method.1": 8}


def test_a_path_is_read_and_names_itself(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\n")
    assert load_yaml(path) == ({"seed": 1}, {"seed": 1})
    with pytest.raises(ConfigError) as info:
        load_yaml(tmp_path / "missing.yaml", what="sweep spec")
    assert str(info.value) == f"{tmp_path / 'missing.yaml'}: sweep spec not found"


def test_duplicate_keys_name_both_lines():
    with pytest.raises(ConfigError) as info:
        load_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml")
    assert str(info.value) == "d.yaml:4: b.c: duplicate key (first on line 3)"


def test_yaml_errors_have_lines_and_unsafe_tags_are_refused():
    with pytest.raises(ConfigError) as info:
        load_yaml("a: [1\nb: 2\n", "e.yaml")
    assert info.value.line == 2 and str(info.value).startswith("e.yaml:2: invalid YAML: ")
    with pytest.raises(ConfigError) as info:
        load_yaml("a: !!python/object/apply:os.system ['true']\n", "f.yaml")
    assert info.value.line == 1 and "invalid YAML" in info.value.message


def test_an_empty_document_is_none():
    assert load_yaml("# nothing\n", "g.yaml") == (None, {})


def test_it_needs_no_numpy():
    import os
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import sys, rnnctl.yamlio; print('numpy' in sys.modules)"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}).stdout.strip()
    assert out == "False"
