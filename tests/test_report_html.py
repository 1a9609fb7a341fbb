"""The HTML report: self-contained (figures inline, nothing fetched), and rendered by headless
Chromium with every figure loaded. The Chromium tests run when a Chromium binary is found and are
skipped (with the reason) otherwise; `.ci/run` installs one where it can."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import config_from_dict, dump_config

runner = CliRunner()
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary on PATH "
                                    "(apt-get install chromium to run the rendering tests)")
# Flags for a root user in a container, with no network use of its own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]
MARKER = """<script>
addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + imgs.length);
});
</script>"""


def make_sweep(root: Path) -> Path:
    """A small sweep folder (2 methods x 2 lengths x 2 seeds) with traces and metrics."""
    folder = root / "runs" / "mini"
    rng = np.random.default_rng(1)
    jobs = []
    i = 0
    for method in ("none", "norm"):
        for length in (20, 40):
            for seed in (0, 1):
                rid = f"{i:016x}"
                path = folder / rid
                path.mkdir(parents=True)
                ok = method == "norm" or length == 20
                cfg = {"name": "mini", "seed": seed, "task": {"name": "temporal_order", "length": length},
                       "train": {"steps": 400, "gradient": {"method": method}}}
                (path / "config.yaml").write_text(dump_config(config_from_dict(cfg)))
                n = 300 if ok else 400
                norms = np.exp(rng.normal(0, 1, n)) * (5 if method == "none" else 1)
                (path / "trace.csv").write_text(
                    "update,loss,norm_before,norm_after,fired,length\n"
                    + "".join(f"{u + 1},{1.4 * np.exp(-u / 200):.5g},{b:.5g},{min(b, 1.0) if method == 'norm' else b:.5g},"
                              f"{int(method == 'norm' and b > 1)},{length}\n" for u, b in enumerate(norms)))
                (path / "metrics.jsonl").write_text("".join(json.dumps(
                    {"update": u, "loss": 1.4 * np.exp(-u / 200), "error": max(0.7 - u / 300, 0.0) if ok else 0.7,
                     "spectral": {"W_rec": {"sv_max": 1 + u / 1000, "radius": 0.9 + u / 2000}}, "bound": 1.0}) + "\n"
                    for u in range(100, n + 1, 100)))
                (path / "run.json").write_text(json.dumps({
                    "status": "succeeded" if ok else "completed", "seed": seed, "updates": n,
                    "final_loss": 0.1, "final_error": 0.0 if ok else 0.7, "success": ok,
                    "success_update": n if ok else None, "clip_rate": 0.3 if method == "norm" else 0.0,
                    "norm_max": float(norms.max()), "norm_median": float(np.median(norms)), "wall_time": 3.0}))
                jobs.append({"job": i, "run_id": rid, "values": {"train.gradient.method": method,
                                                                 "task.length": length, "seed": seed}})
                i += 1
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    return folder


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    folder = make_sweep(root)
    r = runner.invoke(app, ["report", str(folder), "--by", "method,length", "--html", str(root / "sweep.html")])
    assert r.exit_code == 0, r.output
    run = sorted(p for p in folder.iterdir() if p.is_dir())[-1]
    r = runner.invoke(app, ["report", str(run), "--html", str(root / "run.html")])
    assert r.exit_code == 0, r.output
    return root / "sweep.html", root / "run.html"


def test_pages_are_self_contained(pages):
    import matplotlib.image as mpimg
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and "</html>" in text
        srcs = re.findall(r'<img [^>]*src="([^"]+)"', text)
        assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
        for s in srcs:   # every figure decodes to a real, non-uniform image
            img = mpimg.imread(__import__("io").BytesIO(base64.b64decode(s.split(",", 1)[1])), format="png")
            assert img.shape[0] > 300 and float(img[..., :3].std()) > 0.02
        assert not re.search(r'(src|href)="(https?:)?//', text) and "<script" not in text and "<link" not in text
    sweep, run = (p.read_text(encoding="utf-8") for p in pages)
    assert "Success by group" in sweep and "Paired seeds" in sweep and "differs from the base" in sweep
    assert "success_vs_length" not in sweep or "Rate of success" in sweep
    assert "Status" in run and "config.yaml" in run and "differences from" in run


def _chromium(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "HOME": profile})


@needs_chromium
def test_chromium_loads_every_figure(pages, tmp_path):
    for page in pages:
        probe = tmp_path / page.name
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MARKER + "</body>"), encoding="utf-8")
        res = _chromium(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()])
        m = re.search(r'data-images-loaded="(\d+)/(\d+)"', res.stdout)
        assert m, (res.stdout[-500:], res.stderr[-2000:])
        loaded, total = map(int, m.groups())
        assert total >= 1 and loaded == total, f"{page.name}: {loaded} of {total} figures loaded"
