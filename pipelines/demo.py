"""``make demo``: the whole pipeline end to end on the embedded default, in one command.

Starts a Kafka broker, the Faust worker and the LRS API; simulates a small school (roster +
a month of events from six xAPI tools, some over HTTP, some straight to Kafka, a few invalid,
and IMS Caliper events from an LMS's sensor, POSTed to ``/caliper``); waits
until every accepted statement is in the warehouse; materialises the Dagster assets in-process;
prints one student's conversation card with its evidence, writes it as an HTML page to open, and
stops everything it started. The last line is the ledger:
``demo: sent=N accepted=N rejected=N stored=N dead_lettered=N`` with accepted = stored +
dead_lettered, or the demo fails.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import structlog
from kafka import KafkaProducer
from rich.console import Console

from pipelines import simulator
from pipelines.lrs.settings import ClientConfig
from pipelines.simulate import caliper
from pipelines.stack import Stack, free_port
from schemas.errors import summarise
from stream.settings import KafkaSettings
from warehouse.client import Warehouse
from warehouse.settings import LrsStoreSettings, WarehouseSettings

console = Console(highlight=False, soft_wrap=True)
DEMO_PASSWORD = "demo-password"
"""The demo's teacher and student sign in to the teacher app with this (printed at the end)."""
plain = Console(highlight=False, soft_wrap=True, markup=False)
HTTP_BATCH = 100
HTTP_CONCURRENCY = 6


@dataclass
class Ledger:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    stored: int = 0
    dead_lettered: int = 0
    # The simulator's invalid events sent over HTTP: exactly these may be refused at the edge.
    invalid_http: int = 0

    def line(self) -> str:
        return (
            f"demo: sent={self.sent} accepted={self.accepted} rejected={self.rejected} "
            f"stored={self.stored} dead_lettered={self.dead_lettered} "
            f"invalid_http={self.invalid_http}"
        )


def _clients(tools: set[str]) -> list[ClientConfig]:
    """One client (key/secret) per tool, as a school would issue them."""
    return [ClientConfig(key=f"{t}-client", secret=f"{t}-secret", tool=t) for t in sorted(tools)]


def send_events(
    events: list[simulator.SimEvent],
    api_url: str,
    direct: dict[str, KafkaSettings],
    clients: dict[str, ClientConfig],
    ledger: Ledger,
) -> None:
    """HTTP events go through the API in batches per tool; the rest straight to Kafka, each
    tool as its own principal to its own topic (``direct``: tool -> its settings).

    Several POSTs are in flight at once, as several tools would send them: each one waits until
    the worker has stored its statements (read-your-writes), so one at a time would leave the
    worker idle between batches.
    """
    producers = {
        tool: KafkaProducer(**kafka.client(), acks="all", linger_ms=20)
        for tool, kafka in direct.items()
    }
    http = httpx.Client(base_url=api_url, timeout=60)
    # Batches per (tool, xAPI version): a request has one version.
    pending: dict[tuple[str, str], list[bytes]] = {}
    posts = ThreadPoolExecutor(max_workers=HTTP_CONCURRENCY)
    in_flight: list[Future[None]] = []
    counted = threading.Lock()

    def flush(key: tuple[str, str]) -> None:
        batch = pending.pop(key, [])
        if batch:
            in_flight.append(posts.submit(post, key, batch))

    def post(key: tuple[str, str], batch: list[bytes]) -> None:
        tool, version = key
        client = clients[tool]
        token = base64.b64encode(f"{client.key}:{client.secret.get_secret_value()}".encode())
        body = b"[" + b",".join(batch) + b"]" if len(batch) > 1 else batch[0]
        r = http.post(
            "/xAPI/statements",
            content=body,
            headers={
                "Authorization": f"Basic {token.decode()}",
                "X-Experience-API-Version": version,
                "Content-Type": "application/json",
            },
        )
        if r.status_code not in (200, 400):
            raise RuntimeError(f"LRS API answered {r.status_code}: {r.text}")
        with counted:
            if r.status_code == 200:
                ledger.accepted += len(r.json())
            else:
                ledger.rejected += len(batch)

    sensor: list[simulator.SimEvent] = []

    def send_envelope() -> None:
        batch = sensor[:]
        sensor.clear()
        if batch:
            in_flight.append(posts.submit(post_caliper, batch))

    def post_caliper(batch: list[simulator.SimEvent]) -> None:
        # A Caliper sensor authenticates with its secret alone, as a bearer token.
        secret = clients[caliper.TOOL].secret.get_secret_value()
        r = http.post(
            "/caliper",
            content=caliper.envelope(batch, datetime.now(UTC)),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
        if r.status_code not in (200, 400):
            raise RuntimeError(f"Caliper endpoint answered {r.status_code}: {r.text}")
        with counted:
            if r.status_code == 200:
                ledger.accepted += r.json()["stored"]
            else:
                ledger.rejected += len(batch)

    for event in events:
        ledger.sent += 1
        if event.channel == "caliper":
            sensor.append(event)
            if len(sensor) >= HTTP_BATCH:
                send_envelope()
        elif event.channel == "kafka":
            producers[event.tool].send(direct[event.tool].direct_topic(event.tool), event.payload)
            ledger.accepted += 1  # acknowledged by Kafka (acks=all, flushed below)
        elif not event.valid:
            ledger.invalid_http += 1
            key = (event.tool, simulator.xapi_version(event.payload))
            flush(key)  # keep order; an invalid statement is sent on its own
            pending[key] = [event.payload]
            flush(key)
        else:
            key = (event.tool, simulator.xapi_version(event.payload))
            pending.setdefault(key, []).append(event.payload)
            if len(pending[key]) >= HTTP_BATCH:
                flush(key)
    for key in list(pending):
        flush(key)
    send_envelope()
    for future in in_flight:
        future.result()
    posts.shutdown()
    for producer in producers.values():
        producer.flush()
        producer.close()
    http.close()


def wait_until_stored(warehouse: Warehouse, ledger: Ledger, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with warehouse.session() as wh:
            counts = wh.counts()
        # Raw rows, not distinct ids: a statement written twice would unbalance the ledger.
        ledger.stored, ledger.dead_lettered = counts["statements"], counts["dead_letters"]
        if ledger.stored + ledger.dead_lettered >= ledger.accepted:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"only {ledger.stored + ledger.dead_lettered} of "
                f"{ledger.accepted} accepted statements arrived"
            )
        time.sleep(0.5)


def run_demo(data_dir: Path, seed: int = 7) -> int:
    started = time.monotonic()
    # The demo tells its own story; component logs go to data_dir/logs.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    data_dir = data_dir.resolve()
    marker = data_dir / ".lrp-demo"
    if _stack_running(data_dir):
        console.print(
            f"[red]a stack is serving {data_dir}: stop it first (make down DATA={data_dir})[/]"
        )
        return 2
    if data_dir.exists() and any(data_dir.iterdir()):
        earlier_demo = (data_dir / "roster").is_dir() and (data_dir / "chdb").exists()
        if not (marker.exists() or earlier_demo):
            console.print(
                f"[red]{data_dir} is not empty and is not a demo folder; not touching it[/]"
            )
            return 2
        shutil.rmtree(data_dir)  # every demo starts from an empty warehouse and broker
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("created by `python -m pipelines demo`; deleted and rebuilt on each run\n")

    # The simulated month ends this Monday, so what people do in the teacher app afterwards
    # (a check-in, a goal) lands just after the school's data, not weeks past it.
    today = datetime.now(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    cfg = simulator.SimConfig(seed=seed, start=this_monday - timedelta(weeks=4))
    school = simulator.generate_school(cfg)
    # xAPI from six tools, and IMS Caliper from a seventh (an LMS's sensor), in time order.
    events = simulator.generate_events(school, cfg) + caliper.caliper_events(school, cfg)
    events.sort(key=lambda e: e.at)
    roster_dir = data_dir / "roster"
    simulator.write_roster(school, roster_dir)
    # The competency framework (CASE), beside the roster: cards name standards, not codes.
    (roster_dir / "case.json").write_bytes(orjson.dumps(simulator.case_package(school)))
    tools = {e.tool for e in events}
    clients = {c.tool: c for c in _clients(tools)}
    console.print(
        f"[bold]simulated[/] {len(school.students)} students, {len(school.classes)} "
        f"classes, {len(events)} events from {len(tools)} tools: "
        f"{dict(Counter(e.tool for e in events))}"
    )

    api_port = free_port(8080)
    extra = {
        "LRS_CLIENTS": "["
        + ",".join(
            f'{{"key":"{c.key}","secret":"{c.secret.get_secret_value()}","tool":"{c.tool}"}}'
            for c in clients.values()
        )
        + "]"
    }
    direct_tools = sorted({e.tool for e in events if e.channel == "kafka"})
    stack = Stack(data_dir, api_port=api_port, extra_env=extra, direct_tools=direct_tools)
    ledger = Ledger()
    try:
        with console.status("starting Kafka broker, worker and LRS API…"):
            stack.start()
        assert stack.broker is not None
        console.print(
            f"[bold]stack up[/] in {time.monotonic() - started:.1f}s: Kafka "
            f"{stack.broker.bootstrap_servers}, xAPI {stack.api_url}/xAPI/"
        )
        direct = {tool: p.settings(stack.kafka()) for tool, p in stack.tools.items()}
        t0 = time.monotonic()
        with console.status("sending the school's month of events…"):
            send_events(events, stack.api_url, direct, clients, ledger)
        console.print(
            f"[bold]sent[/] {ledger.sent} events in {time.monotonic() - t0:.1f}s "
            f"(accepted {ledger.accepted}, rejected at the edge {ledger.rejected})"
        )
        warehouse = Warehouse(WarehouseSettings(url=stack.warehouse_url))
        with console.status("waiting for the worker to store every accepted statement…"):
            wait_until_stored(warehouse, ledger)
        console.print(f"[bold]stored[/] {ledger.stored}, dead-lettered {ledger.dead_lettered}")
        with warehouse.session() as wh:
            for letter in wh.dead_letters(limit=10):
                why = summarise(orjson.loads(letter["errors"]))
                console.print(f"  dead letter: {letter['reason']} from {letter['tool']}: {why}")
    finally:
        stack.stop()

    os.environ["CLICKHOUSE_URL"] = stack.warehouse_url
    os.environ["PROFILE_ROSTER_DIR"] = str(roster_dir)
    import dagster as dg

    from dagster_project.run import materialize_all
    from pipelines.teacher.app import set_password
    from pipelines.teacher.card import card_for, write_card_html

    # A persistent instance, so `make dagster-ui` shows this run and its materialisations.
    dagster_home = data_dir / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    # Dagster prints a telemetry notice in the middle of the demo unless its instance says no
    # (it reads $DAGSTER_HOME/dagster.yaml); `make dagster-ui` uses the same instance.
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    t0 = time.monotonic()
    with (
        console.status("materialising the Dagster assets…"),
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
    ):
        result = materialize_all(stack.warehouse_url, instance=instance)
    if not result.success:
        console.print("[red]Dagster run failed[/]")
        return 1
    console.print(
        f"[bold]dagster[/] materialised the profile assets in {time.monotonic() - t0:.1f}s"
    )

    student = _showcase_student(school)
    card = card_for(student.sourced_id, stack.warehouse_url)
    console.rule(f"conversation card: {student.name}")
    plain.print(card.text)
    page = write_card_html(card, data_dir / "card.html")
    teacher = school.primary_teacher(school.classes_of(student.sourced_id)[0].sourced_id)
    store = LrsStoreSettings(url=f"sqlite:///{data_dir / 'lrs.sqlite3'}")
    for user in (teacher, student):
        set_password(user.username, DEMO_PASSWORD, store=store)
    console.rule()
    console.print(f"open the card: file://{page}")
    console.print(
        "open the teacher app on this school: [bold]make up DATA=.data/demo[/] → "
        f"http://127.0.0.1:8081/ and sign in as the teacher [bold]{teacher.username}[/] "
        f"({teacher.name}) or the student [bold]{student.username}[/], password "
        f"[bold]{DEMO_PASSWORD}[/] (make down DATA=.data/demo stops it)"
    )
    console.print("explore the assets and their lineage: make dagster-ui → http://127.0.0.1:3000")
    console.print(f"total {time.monotonic() - started:.1f}s")

    balanced = ledger.stored + ledger.dead_lettered == ledger.accepted
    print(ledger.line())
    return 0 if balanced and ledger.sent == ledger.accepted + ledger.rejected else 1


def _stack_running(data_dir: Path) -> bool:
    """``make up DATA=<this folder>`` is serving it (a stale pidfile after a crash is not)."""
    try:
        os.kill(int((data_dir / "stack.pid").read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return False
    return True


def _showcase_student(school: simulator.School) -> simulator.User:
    """A student whose card shows several dimensions at once (an interest and a missing check-in
    if the simulator made one), else the first student."""
    plans = school.plans
    for student in school.students:
        plan = plans.get(student.sourced_id)
        if plan and plan.persona == simulator.CURIOUS and plan.checkins == 0:
            return student
    for student in school.students:
        plan = plans.get(student.sourced_id)
        if plan and plan.persona == simulator.CURIOUS:
            return student
    return school.students[0]
