"""Apache Superset, a real BI tool, on the pipeline's ClickHouse 18.16 (issue #16).

The demo data goes through a worker into the test's database; then ``voc superset
provision``, as ``make bi`` runs it, registers that database in a local Superset (PyPI's
apache-superset, started by deploy/local/services.sh), saves a chart, runs every docs/bi.md
query through SQL Lab, compares its rows with a direct run, and has headless Chromium draw the
chart. The PNG is checked for a drawn chart, and the read-only ``voc_bi`` user is checked to
work from Superset as analysts connect.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config import REPO_ROOT
from pipeline.reporting.bi_queries import read_bi_queries
from pipeline.reporting.superset import SupersetApi, SupersetError
from pipeline.tools.demo_data import OWN_BRAND
from tests.integration.conftest import Stack, run_voc
from tests.integration.test_bi_queries import demo_stack

pytestmark = pytest.mark.integration

SERVICES = REPO_ROOT / "deploy" / "local" / "services.sh"
PASSWORD = os.environ.get("VOC_SUPERSET_PASSWORD", "voc-superset-local")
PORT = os.environ.get("VOC_LOCAL_SUPERSET_PORT", "8088")
URL = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def superset() -> Iterator[str]:
    """A running local Superset: installed and started if need be, stopped after if started here."""
    status = subprocess.run(["bash", str(SERVICES), "status"], capture_output=True, text=True, check=True)
    was_running = "superset: running" in status.stdout
    started = subprocess.run(
        ["bash", str(SERVICES), "up", "superset"], capture_output=True, text=True, timeout=900
    )
    assert started.returncode == 0, started.stderr[-3000:]
    yield URL
    if not was_running:
        subprocess.run(["bash", str(SERVICES), "down", "superset"], capture_output=True, timeout=120)


def test_superset_charts_the_demo_data_and_runs_every_documented_query(
    superset: str, make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = demo_stack(make_stack, tmp_path)
    database = stack.settings.clickhouse_database
    png = tmp_path / "chart.png"
    env = {
        **stack.env,
        "VOC_SUPERSET_PASSWORD": PASSWORD,
        "VOC_BRAND_GROUPS": json.dumps({OWN_BRAND: []}),
        # voc_bi may read the `voc` database only; the test's own database is read as the
        # stack's user. voc_bi is checked below, on `voc`.
        "VOC_SUPERSET_BI_PASSWORD": stack.settings.clickhouse_password.get_secret_value(),
    }
    done = run_voc(
        env,
        "superset", "provision", "--url", superset, "--database-name", database,
        "--bi-user", stack.settings.clickhouse_user, "--screenshot", str(png),
        timeout_s=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["brand"] == OWN_BRAND and report["problems"] == []
    # Three demo hours, one row per hour after Superset's pivot.
    assert report["chart_rows"] >= 3
    checks = {check["number"]: check for check in report["queries"]}
    assert sorted(checks) == [query.number for query in read_bi_queries()]
    for number, check in checks.items():
        assert check["passed"] and check["error"] is None, check
        # Every query has rows on the demo data (tests/integration/test_bi_queries.py), so
        # an equal comparison is not two empty answers.
        assert check["direct_rows"] == check["superset_rows"] > 0, (number, check)

    width, height, distinct_colours = png_summary(png.read_bytes())
    assert (width, height) == (1200, 700)
    # A drawn line chart: background, grid, axis text and ten coloured series. An error card
    # (342 colours, its anti-aliased text, measured) or a blank page has far fewer; the chart 3,740.
    assert distinct_colours > 1500, distinct_colours
    # Kept for a person to look at when asked for, as the HTML report's (test_bi_queries.py).
    if keep := os.environ.get("VOC_REPORT_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / "superset-chart.png")

    # Provisioning again finds what it made: the same ids, no duplicates.
    again = run_voc(
        env,
        "superset", "provision", "--url", superset, "--database-name", database,
        "--bi-user", stack.settings.clickhouse_user, "--no-check-queries",
        timeout_s=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads(again.stdout)
    assert (second["database_id"], second["dataset_id"], second["chart_id"]) == (
        report["database_id"],
        report["dataset_id"],
        report["chart_id"],
    )


def test_superset_reads_as_the_read_only_bi_user_and_refuses_what_is_not_there(
    superset: str, make_stack: Callable[..., Stack]
) -> None:
    make_stack()  # migrations: `voc` exists (idempotent, as in test_access.py)
    from tests.integration.test_access import BI_DATABASE, BI_PASSWORD, BI_USER

    api = SupersetApi(superset, "admin", PASSWORD)
    api.login()
    database_id = api.database_id(
        "voc as voc_bi (test)", f"clickhouse+native://{BI_USER}:{BI_PASSWORD}@127.0.0.1:9000/{BI_DATABASE}"
    )
    rows = api.run_sql(database_id, "SELECT count() AS n FROM feedback", BI_DATABASE)
    assert len(rows) == 1 and rows[0]["n"] >= 0
    # The profile is readonly=1: Superset's own queries (it sets no settings) still run, and
    # a table that is not there is Superset's error, with ClickHouse's message in it.
    with pytest.raises(SupersetError, match=r"(?i)doesn't exist|unknown table|UNKNOWN_TABLE"):
        api.run_sql(database_id, "SELECT count() FROM no_such_table", BI_DATABASE)
    wrong = SupersetApi(superset, "admin", PASSWORD + "-wrong")
    with pytest.raises(SupersetError, match="401"):
        wrong.login()


def png_summary(png: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct colours of an 8-bit RGB(A) PNG (no Pillow here)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    idat = b""
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        data = png[offset + 8 : offset + 8 + length]
        if kind == b"IDAT":
            idat += data
        else:
            chunks[kind] = data
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    position = 0
    for _ in range(height):
        kind, line = raw[position], bytearray(raw[position + 1 : position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        colours.update(bytes(line[j : j + 3]) for j in range(0, stride, channels))
        previous = line
    return width, height, len(colours)
