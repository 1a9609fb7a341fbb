"""Hostile data files (issue 24, items 2 and 3): each is a DataError or ConfigError (exit 2) with
the reason, found by --dry-run, fast, without reading what it should not."""

import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import check_runnable, load_config
from rnnctl.errors import EXIT_USAGE, ConfigError, DataError
from rnnctl.safeio import Refused, load_npz, loads_json, read_json, read_regular

runner = CliRunner()
FORMATS = ("text", "csv", "npz", "labelled")


def config(tmp_path, path, fmt, *more):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task:\n  name: file\nmodel:\n  hidden: 4\ntrain:\n  steps: 2\n  batch_size: 2\n"
                   "eval:\n  every: 2\n")
    return [str(cfg), f"task.path={path}", f"task.format={fmt}",
            *(["task.length=5"] if fmt in ("text", "csv") else []), *more]


def dry_run(tmp_path, path, fmt, *more):
    t = time.perf_counter()
    r = runner.invoke(app, ["train", *config(tmp_path, path, fmt, *more), "--dry-run"])
    return r, time.perf_counter() - t


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo"])
def test_special_files_refused_without_reading(tmp_path, fmt, special):
    if special == "fifo":
        special = tmp_path / "fifo"
        os.mkfifo(special)
    r, took = dry_run(tmp_path, special, fmt)
    assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, r.output
    assert "not a regular file" in r.output and took < 5


def test_stdin_refused():
    with pytest.raises(Refused, match="not a regular file"):
        read_regular("/dev/stdin", 100)     # a pipe under pytest, a tty in a shell: never read


def test_npz_declaring_a_huge_shape(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 1)})
    p = tmp_path / "huge.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("x.npy", buf.getvalue() + b"\0" * 64)
        z.writestr("lengths.npy", b"")
    assert p.stat().st_size < 2000
    r, took = dry_run(tmp_path, p, "npz")
    assert r.exit_code == EXIT_USAGE and "declares shape (1000000000000, 1)" in r.output, r.output
    assert took < 5


def test_npz_zip_bomb_refused_from_its_directory(tmp_path, monkeypatch):
    """A zip of 0.1 MB that decompresses to 100 MB: refused from the sizes the archive declares,
    before decompressing (the cap lowered so that the test stays small)."""
    import rnnctl.data.npzfmt as npzfmt
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array_header_1_0(m, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (100 * 2**20 // 8,)})
            block = b"\0" * 2**20
            for _ in range(100):
                m.write(block)
    assert p.stat().st_size < 2**20
    monkeypatch.setattr(npzfmt, "MAX_NPZ_BYTES", 16 * 2**20)
    t = time.perf_counter()
    with pytest.raises(DataError, match="declares 100.0 MiB once decompressed"):
        npzfmt.load_npz(p)
    assert time.perf_counter() - t < 1


def test_npz_member_lying_about_its_size(tmp_path):
    """A member whose zip entry declares fewer bytes than its header's shape needs is refused
    before the array is allocated; reading never yields more than the entry declares."""
    good = tmp_path / "g.npz"
    np.savez(good, x=np.arange(10.0))
    data = load_npz(good, 10**6)
    assert data["x"].tolist() == list(range(10))
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**6,)})
    p = tmp_path / "short.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("x.npy", buf.getvalue() + b"\0" * 80)
    with pytest.raises(Refused, match="declares shape"):
        load_npz(p, 10**9)


def test_jsonl_nesting_and_huge_integers(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"text": "ab", "label": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    r, took = dry_run(tmp_path, deep, "labelled")
    assert r.exit_code == EXIT_USAGE and "nested more than" in r.output and took < 5, r.output
    digits = tmp_path / "digits.jsonl"
    digits.write_text("".join(f'{{"text": "ab{i}", "label": {"9" * 5000}}}\n' for i in range(10)))
    r, _ = dry_run(tmp_path, digits, "labelled")
    assert r.exit_code == EXIT_USAGE and "5000 digits" in r.output, r.output
    big = tmp_path / "big.jsonl"
    big.write_text("".join(f'{{"text": "ab{i}", "label": {10**30 + i % 2}}}\n' for i in range(10)))
    r, _ = dry_run(tmp_path, big, "labelled")
    assert r.exit_code == EXIT_USAGE and "64 bits" in r.output, r.output


def test_bounded_json():
    assert loads_json('{"a": [1, {"b": "[[[[[[[[["}], "c": -12}') == {"a": [1, {"b": "[[[[[[[[["}], "c": -12}
    with pytest.raises(Refused, match="nested more than 3"):
        loads_json("[[[[1]]]]", max_depth=3)
    with pytest.raises(ValueError):
        loads_json("[1,")


def test_too_large_text_file(tmp_path, monkeypatch):
    import rnnctl.data.common as common
    monkeypatch.setattr(common, "MAX_TEXT_BYTES", 1000)
    p = tmp_path / "t.txt"
    p.write_text("ab" * 1000)
    with pytest.raises(DataError, match="more than the 1,000 bytes"):
        common.read_utf8(p)
    with pytest.raises(Refused):
        read_json(p, max_bytes=10)


def test_unicode_alphabet_one_hot_inputs_count_in_the_memory_check(tmp_path, monkeypatch):
    """A text of every Unicode character: 1.1 million one-hot inputs per step and row. The memory
    check counts them (the machine's memory made small so that the bound bites here)."""
    import rnnctl.config.runnable as runnable
    p = tmp_path / "uni.txt"
    p.write_text("".join(chr(c) for c in range(32, 0x110000) if not 0xD800 <= c < 0xE000))
    cfg = load_config(Path(config(tmp_path, p, "text")[0]),
                      [f"task.path={p}", "task.format=text", "task.length=100", "train.batch_size=4"])
    monkeypatch.setattr(runnable, "physical_memory", lambda: 2 * 2**30)
    with pytest.raises(ConfigError, match="inputs and hidden states of a batch over 100 steps 2.7 GiB"):
        check_runnable(cfg)


@pytest.mark.parametrize("name, content, fmt, words", [
    ("one.npz", None, "npz", "valid and test splits would hold no sequences"),
    ("one.csv", "text,label\nhello,1\n", "labelled", "valid and test splits would hold no sequences"),
    ("huge.csv", "".join(("1e308\n" if i % 2 else "-1e308\n") for i in range(50)), "csv",
     "its square overflows"),
    ("short.txt", "abcdefghijkl", "text", "too few for 2 streams"),
])
def test_dry_run_finds_what_the_run_would_meet(tmp_path, name, content, fmt, words):
    p = tmp_path / name
    if content is None:
        np.savez(p, x_0=np.ones((3, 2)), y=np.array([1]))
    else:
        p.write_text(content)
    r, _ = dry_run(tmp_path, p, fmt, *(["task.length=10"] if name == "short.txt" else []))
    assert r.exit_code == EXIT_USAGE and words in r.output, r.output


def test_npz_values_whose_square_overflows(tmp_path):
    p = tmp_path / "big.npz"
    np.savez(p, **{f"x_{i}": np.full((3, 1), 1e200 if i == 3 else 1.0) for i in range(10)}, y=np.arange(10) % 2)
    r, _ = dry_run(tmp_path, p, "npz")
    assert r.exit_code == EXIT_USAGE and "key 'x_3'" in r.output and "overflows" in r.output


@pytest.mark.parametrize("header", ['"' + "t" * 200_000 + '",label\n', '"text,label\n'])
def test_labelled_csv_with_a_malformed_header(tmp_path, header):
    """Found by the fuzzing of issue 24: a header over csv's field limit, or one that never closes
    its quote, raised csv.Error (a traceback) while the header was read."""
    p = tmp_path / "h.csv"
    p.write_text(header + "abc,1\n" * 10)
    r, _ = dry_run(tmp_path, p, "labelled")
    assert r.exit_code == EXIT_USAGE and "malformed CSV" in r.output, r.output


def test_npz_with_an_unsupported_zip_feature(tmp_path):
    """Found by the fuzzing of issue 24: zipfile raises NotImplementedError for a version or a
    compression method it does not know (and zlib.error for a bad stream), not BadZipFile."""
    p = tmp_path / "v.npz"
    np.savez(p, **{f"x_{i}": np.ones((2, 1)) for i in range(10)}, y=np.arange(10) % 2)
    raw = bytearray(p.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")                  # the last central directory entry
    raw[cd + 6:cd + 8] = (147).to_bytes(2, "little")   # "version needed to extract": 14.7
    p.write_bytes(bytes(raw))
    r, _ = dry_run(tmp_path, p, "npz")
    assert r.exit_code == EXIT_USAGE and "not a readable .npz" in r.output, r.output
