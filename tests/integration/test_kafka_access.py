"""The broker is closed (issue 13, item 2): every client authenticates, each principal may do
only its job, and a record's tool and source come from its principal or the edge's signature.

Against the session's real broker (SASL/SCRAM listener, StandardAuthorizer, no ACL = no access)
and a real worker and LRS API running as their own least-privilege principals.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAuthorizationFailedError

from stream.access import revoke_tool
from support import API_HEADERS, PipelineEnv, drained, statement, wait_for
from warehouse.client import Warehouse
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration


def _send(kafka: Any, topic: str, value: bytes, **send: Any) -> None:
    producer = KafkaProducer(**kafka.client(), acks="all", max_block_ms=10_000)
    try:
        producer.send(topic, value, **send).get(timeout=10)
    finally:
        producer.close(timeout=5)


def test_a_tool_may_write_its_own_topic_and_nothing_else(pipeline: PipelineEnv) -> None:
    quiz = pipeline.register_tool("quiz")
    _send(quiz, quiz.direct_topic("quiz"), b"{}")  # its own topic: allowed
    for topic in (pipeline.raw_topic, pipeline.dlq_topic, quiz.direct_topic("other")):
        with pytest.raises(TopicAuthorizationFailedError):
            _send(quiz, topic, b"{}")

    consumer = KafkaConsumer(
        pipeline.raw_topic, **quiz.client(), group_id=f"thief-{pipeline.suffix}",
        auto_offset_reset="earliest", consumer_timeout_ms=3000,
    )  # fmt: skip
    with pytest.raises(KafkaError):  # group or topic authorisation fails: nothing is read
        list(consumer)
    consumer.close()

    admin = KafkaAdminClient(**quiz.client())
    try:
        with pytest.raises(KafkaError, match="uthorization"):
            admin.delete_topics([pipeline.raw_topic])
        assert pipeline.raw_topic not in admin.list_topics()  # it cannot even see the topic
    finally:
        admin.close()
    assert pipeline.raw_topic in KafkaAdminClient(**pipeline.client()).list_topics()


def test_unauthenticated_or_wrong_password_clients_get_nothing(pipeline: PipelineEnv) -> None:
    quiz = pipeline.register_tool("quiz")
    wrong = quiz.model_copy(update={"password": quiz.password.__class__("not-the-password")})
    for settings in (wrong,):
        with pytest.raises(KafkaTimeoutError):
            KafkaProducer(**settings.client(), max_block_ms=3000).send(
                quiz.direct_topic("quiz"), b"{}"
            ).get(timeout=5)
    with pytest.raises(KafkaTimeoutError):  # no SASL at all: the listener speaks only SASL
        KafkaProducer(bootstrap_servers=pipeline.bootstrap, max_block_ms=3000).send(
            quiz.direct_topic("quiz"), b"{}"
        ).get(timeout=5)


def test_a_revoked_tool_can_no_longer_write(pipeline: PipelineEnv) -> None:
    quiz = pipeline.register_tool("quiz")
    _send(quiz, quiz.direct_topic("quiz"), b"{}")
    revoke_tool(pipeline.kafka(), pipeline.kafka(), "quiz")
    deadline = time.monotonic() + 20
    while True:  # the broker drops the credential; an open connection may finish a request
        try:
            _send(quiz, quiz.direct_topic("quiz"), b"{}")
        except KafkaError:
            break
        assert time.monotonic() < deadline, "the revoked tool still writes"
        time.sleep(0.5)


def test_forged_headers_are_not_believed_and_the_tool_comes_from_the_principal(
    pipeline: PipelineEnv,
) -> None:
    """The probe's attack: a record that claims to be a client's HTTP statement. From a tool it
    is stored as that tool's (headers ignored); on the raw topic without the edge's signature
    it is dead-lettered; what the LRS API sends (signed) is stored as the client's."""
    video = pipeline.register_tool("video")
    forged_headers = [
        ("lrp-source", b"http"), ("lrp-tool", b"quiz"), ("lrp-client", b"quiz-app"),
        ("lrp-org", b"other-school"),
    ]  # fmt: skip
    by_tool = statement(1)
    _send(video, video.direct_topic("video"), orjson.dumps(by_tool), headers=forged_headers)
    # The admin principal can write raw (only the LRS and admin can): still not the edge.
    on_raw = statement(2)
    _send(pipeline.kafka(), pipeline.raw_topic, orjson.dumps(on_raw), headers=forged_headers)

    pipeline.spawn("worker", log_name="worker")
    api = pipeline.start_api()
    posted = statement(3)
    r = httpx.post(f"{api}/xAPI/statements", json=posted, headers=API_HEADERS, timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: drained(pipeline), 90, "the worker to read all three records")

    with Warehouse(WarehouseSettings(url=pipeline.warehouse_url)).session() as wh:
        rows = {
            str(row[0]): row[1:]
            for row in wh.query(
                "SELECT id, tool, source FROM $db.statements WHERE id IN {ids:Array(UUID)}",
                {"ids": [by_tool["id"], on_raw["id"], posted["id"]]},
            )
        }
        record = wh.query(
            "SELECT id, org, client FROM $record_db.statements WHERE id = {id:UUID}",
            {"id": by_tool["id"]},
        )
        (letter,) = wh.dead_letters()
    assert rows[by_tool["id"]] == ("video", "kafka")
    assert [(str(r[0]), r[1], r[2]) for r in record] == [(by_tool["id"], "default", "")]
    assert on_raw["id"] not in rows
    assert letter["reason"] == "unverified_provenance" and letter["statement_id"] == ""
    assert rows[posted["id"]] == ("quiz", "http")  # the API's own record: signed, believed
