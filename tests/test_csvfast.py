"""store.csvfast: the compiled reader of long traces gives np.loadtxt's doubles, field for field,
and read_trace takes it for long files with the same results and errors as for short ones."""

import io

import numpy as np
import pytest

from rnnctl.errors import RunError
from rnnctl.store import read_trace, readers
from rnnctl.store.csvfast import parse_csv


def text_of(values: np.ndarray, fmt=".9g") -> bytes:
    return "".join(",".join(format(float(v), fmt) for v in row) + "\n" for row in values).encode()


def oracle(body: bytes) -> np.ndarray:
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2, dtype=float)


@pytest.mark.parametrize("fmt", [".9g", ".17g", ".3e", "f"])
def test_same_doubles_as_loadtxt(fmt):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 7)) * 10.0 ** rng.integers(-30, 30, size=(400, 7))
    x[:, 0] = np.arange(1, 401)                      # update numbers
    x[::7, 3] = 0.0
    x[5, 2], x[6, 2], x[7, 2], x[8, 2] = np.nan, np.inf, -np.inf, -0.0
    x[9, 1], x[10, 1], x[11, 1] = 1e-300, 1.7976931348623157e308, 5e-324
    body = text_of(x, fmt)
    got, want = parse_csv(body, 7), oracle(body)
    assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_odd_but_valid_fields_fall_back_to_float():
    body = b"1,+2.5,1E3,.5,5.,NaN,-Infinity, 7\n2,0.000000000000000000000000001,123456789012345678,1e-0,-0.0,nan,inf,8\n"
    assert np.array_equal(parse_csv(body, 8), oracle(body), equal_nan=True)


@pytest.mark.parametrize("body, match", [(b"1,2,3\n4,5\n", "row 2"), (b"1,2,3\n4,5,6,7\n", "row 2"),
                                        (b"1,2,x\n", "x"), (b"1,,3\n", "row 1")])
def test_bad_text_is_a_value_error(body, match):
    with pytest.raises(ValueError, match=match):
        parse_csv(body, 3)


def test_read_trace_long_path(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = np.column_stack([np.arange(1, 301), rng.random((300, 3))])
    (tmp_path / "trace.csv").write_bytes(b"update,loss,a,b\n" + text_of(x) + b"301,0.5,0.2")   # torn
    short = read_trace(tmp_path)
    monkeypatch.setattr(readers, "FAST_TRACE_BYTES", 0)
    long = read_trace(tmp_path)
    assert list(long) == ["update", "loss", "a", "b"] and len(long["update"]) == 300
    assert all(np.array_equal(short[c], long[c]) for c in short)
    (tmp_path / "trace.csv").write_bytes(b"update,loss\n1,0.5\n2,zz\n")
    with pytest.raises(RunError, match="trace.csv"):
        read_trace(tmp_path)
