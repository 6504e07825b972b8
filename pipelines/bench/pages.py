"""The "pages" phase of ``make bench``: the teacher app's class page and card for a class of 35.

A simulated school with one class of 35 students (four weeks of every tool) is turned into
warehouse rows by the worker's own code (``stream.process.process_record`` then
``stream.sink.write_batch``, no broker needed), the Dagster assets are materialised in-process,
and the app is served by uvicorn in this process on the embedded engine. Then, over HTTP with
one keep-alive client signed in as the class's teacher:

* the class page (35 students ranked, profiles read and parsed per request);
* a student's card (starters and ten dimensions with every statement behind them);
* ``/healthz``: the round trip of a page that reads nothing, the floor the two are compared to.

Issue 15's goal: card and class page p99 < 50 ms.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import httpx

from pipelines.bench.report import Measure, percentile

CLASS_SIZE = 35
REQUESTS = 200
REQUESTS_QUICK = 60
WARMUP = 5
PASSWORD = "bench-password"
PAGE_KEYS = ("page_floor_p99", "page_class_p50", "page_class_p99", "page_card_p50",
             "page_card_p99")  # fmt: skip


def build_school(root: Path) -> tuple[str, str, str, str]:
    """Warehouse, roster and profiles of a one-class school; returns (warehouse url, store url,
    teacher username, class id)."""
    from dagster_project.run import materialize_all
    from pipelines import simulator
    from stream.process import Record, process_record
    from stream.settings import PrivacySettings
    from stream.sink import write_batch
    from warehouse.app_store import AppStore
    from warehouse.client import Warehouse
    from warehouse.settings import LrsStoreSettings, WarehouseSettings
    from warehouse.sqlstore import store_engine

    url = f"chdb://{root / 'chdb'}"
    store_url = f"sqlite:///{root / 'lrs.sqlite3'}"
    warehouse = Warehouse(WarehouseSettings(url=url))
    warehouse.migrate()
    cfg = simulator.SimConfig(students=CLASS_SIZE, teachers=1, classes=2, seed=11, invalid=0)
    school = simulator.generate_school(cfg)
    simulator.write_roster(school, root / "roster")
    key = PrivacySettings().key_bytes(url)
    outcomes = [
        process_record(
            Record(event.payload, "bench-pages", 0, i, event.at.timestamp()),
            hmac_key=key,
            max_bytes=1_000_000,
        )
        for i, event in enumerate(simulator.generate_events(school, cfg))
        if event.valid
    ]
    for start in range(0, len(outcomes), 2000):
        write_batch(warehouse, outcomes[start : start + 2000])
    result = materialize_all(url, roster_dir=str(root / "roster"), log_level="WARNING")
    if not result.success:
        raise RuntimeError("the profile build failed")
    teacher = school.teachers[0]
    AppStore(store_engine(LrsStoreSettings(url=store_url)), "default").set_password(
        teacher.username, PASSWORD
    )
    largest = max(school.classes, key=lambda c: len(school.students_in(c.sourced_id)))
    return url, store_url, teacher.username, largest.sourced_id


def _time(client: httpx.Client, path: str, n: int) -> list[float]:
    out = []
    for i in range(n + WARMUP):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        if i >= WARMUP:
            out.append(elapsed)
    return out


def measure_pages(root: Path, quick: bool = False) -> list[Measure]:
    """Build the school, serve the app here, time its pages; the measures of this phase."""
    import uvicorn

    from pipelines.stack import free_port
    from pipelines.teacher.app import create_app
    from pipelines.teacher.settings import TeacherSettings
    from warehouse.settings import LrsStoreSettings, WarehouseSettings

    root.mkdir(parents=True, exist_ok=True)
    url, store_url, teacher, class_id = build_school(root)
    port = free_port()
    app = create_app(
        TeacherSettings(port=port, secret_key="bench"),
        WarehouseSettings(url=url),
        LrsStoreSettings(url=store_url),
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    n = REQUESTS_QUICK if quick else REQUESTS
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the teacher app did not start")
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            form = client.get("/signin").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            if token is None:
                raise RuntimeError("no CSRF token on the sign-in page")
            client.post(
                "/signin", data={"username": teacher, "password": PASSWORD, "csrf": token[1]}
            )
            rows = client.get(f"/api/classes/{class_id}").json()["rows"]
            if len(rows) != CLASS_SIZE:
                raise RuntimeError(f"the class has {len(rows)} students, not {CLASS_SIZE}")
            floor = _time(client, "/healthz", n)
            class_page = _time(client, f"/classes/{class_id}", n)
            card = _time(client, f"/students/{rows[0]['id']}", n)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    note = f"{n} sequential requests, class of {CLASS_SIZE}, embedded chDB, {os.cpu_count()} cores"
    return [
        Measure("page_floor_p99", "teacher app: /healthz p99", percentile(floor, 99), "ms",
                group="limit", note="HTTP round trip of a page that reads nothing"),
        Measure("page_class_p50", "class page p50", percentile(class_page, 50), "ms", note=note),
        Measure("page_class_p99", "class page p99 (goal < 50 ms)", percentile(class_page, 99),
                "ms", note=note),
        Measure("page_card_p50", "student card p50", percentile(card, 50), "ms", note=note),
        Measure("page_card_p99", "student card p99 (goal < 50 ms)", percentile(card, 99), "ms",
                note=note),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.bench.pages [folder]``: this phase alone, printed."""
    import sys
    import tempfile

    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="lrp-bench-pages-"))
    for m in measure_pages(root):
        print(f"{m.name:<40} {m.value:8.1f} {m.unit}" if m.value is not None else m.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
