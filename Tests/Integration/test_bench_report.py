"""`sluice-bench --report`: a short real compare (direct PostgreSQL vs Sluice) writes an HTML page that
headless Chromium renders to a non-blank screenshot with a curve per target in each chart."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import support

pytestmark = pytest.mark.sluice_only

BENCH_BIN = os.environ.get("SLUICE_BENCH_BIN", str(Path(support.SLUICE_BIN).with_name("sluice-bench")))
CHROMIUM = shutil.which("chromium")
WINDOW = (1120, 1300)


@pytest.fixture
def compare_report(sluice, pgbench_tables, tmp_path):
    """Runs sluice-bench --compare direct=… --compare sluice=…@PID --json r.json; returns (json, html) paths."""
    if not os.access(BENCH_BIN, os.X_OK):
        pytest.fail(f"sluice-bench not found at {BENCH_BIN} (swift build builds it)", pytrace=False)
    process = sluice(support.sluice_config(pool_size=2))
    direct = support.make_url(support.PG_HOST, support.PG_PORT, "app", "app", "app-secret", sslmode="disable")
    proxied = process.url(sslmode="disable")
    json_path = tmp_path / "r.json"
    done = subprocess.run(
        [BENCH_BIN, "--compare", f"direct={direct}", "--compare", f"sluice={proxied}@{process.pid}",
         "--duration", "2", "--warmup", "0.5", "--clients", "2", "--threads", "1", "--pause", "0",
         "--json", str(json_path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=support.sluice_environment())
    assert done.returncode == 0, done.stdout + done.stderr
    html_path = tmp_path / "r.html"  # --compare: next to the JSON by default
    assert f"report: {html_path}" in done.stderr, done.stderr
    return json_path, html_path


def test_report_is_self_contained_and_renders_in_headless_chromium(compare_report, tmp_path):
    """One bench run (the slow part) checked twice: the HTML's elements, then the page as Chromium draws it."""
    json_path, html_path = compare_report
    html = html_path.read_text()
    for external in ("<script", "<link", "src=", "url(", "@import"):
        assert external not in html, external
    assert re.findall(r"https?://[^\"' <]+", html) == ["http://www.w3.org/2000/svg"] * 4, "nothing to fetch"
    assert "app-secret" not in html
    charts = html.split("<svg")[1:]
    assert len(charts) == 4
    for chart in charts:  # each chart is well-formed SVG (XML) on its own
        ElementTree.fromstring("<svg" + chart.split("</svg>")[0] + "</svg>")
    # latency percentiles and throughput: direct and sluice; CPU and RSS: sluice (the pid given)
    assert [chart.count("<polyline") for chart in charts] == [2, 2, 1, 1]
    for chart in charts:
        for points in re.findall(r'<polyline[^>]* points="([^"]*)"', chart):
            assert len(points.split()) >= 2, points
    runs = json.loads(json_path.read_text())["runs"]
    assert [run["name"] for run in runs] == ["direct", "sluice"]
    assert all(run["transactions"] > 0 and run["latency_distribution"] for run in runs)
    assert any(point.get("proxy_cpu_percent") is not None for point in runs[1]["timeline"])
    assert "<td>tps</td>" in html and "(×" in html

    if CHROMIUM is None:
        pytest.fail("chromium is not installed (scripts/test installs it: SLUICE_APT_PACKAGES)", pytrace=False)
    from PIL import Image

    shot = tmp_path / "report.png"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={shot}",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", html_path.as_uri()],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert shot.stat().st_size > 20_000, "a near-empty PNG"
    with Image.open(shot) as image:
        assert image.size == WINDOW
        pixels = image.convert("RGB").resize((WINDOW[0] // 2, WINDOW[1] // 2), Image.NEAREST)
        colors = pixels.getcolors(maxcolors=1_000_000)
    total = sum(count for count, _ in colors)
    ink = sum(count for count, rgb in colors if sum(rgb) < 600)
    assert ink > total * 0.01, f"only {ink} of {total} pixels are not near-white: blank page?"

    def near(target: tuple[int, int, int]) -> int:
        return sum(count for count, rgb in colors if all(abs(a - b) <= 40 for a, b in zip(rgb, target)))

    # the two series colours (palette of HTMLReport): the curves and legends were drawn
    assert near((0x1F, 0x77, 0xB4)) > 200, "no blue (direct) curve in the screenshot"
    assert near((0xD6, 0x27, 0x28)) > 200, "no red (sluice) curve in the screenshot"
