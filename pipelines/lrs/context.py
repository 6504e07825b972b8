"""What every route needs, built once per app and kept on ``app.state.lrs``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from fastapi import Request

from pipelines.lrs.auth import ClientRegistry
from pipelines.lrs.producer import Producer
from pipelines.lrs.rejections import EdgeRejections
from pipelines.lrs.settings import LrsSettings
from pipelines.lrs.watermark import Watermark
from stream.provenance import edge_key
from stream.settings import KafkaSettings
from warehouse.blob_store import BlobStore
from warehouse.quality_store import QualityStore
from warehouse.record_store import RecordStore
from warehouse.statement_store import StatementStore


@dataclass
class LrsContext:
    """Settings and long-lived clients shared by the routers."""

    settings: LrsSettings
    kafka: KafkaSettings
    hmac_key: bytes
    producer: Producer
    clients: ClientRegistry
    statements: StatementStore
    records: RecordStore
    blobs: BlobStore
    watermark: Watermark
    rejections: EdgeRejections
    quality: QualityStore

    @cached_property
    def edge_key(self) -> bytes:
        """The key that signs this API's records for the worker (stream/provenance.py)."""
        return edge_key(self.hmac_key)


def lrs_context(request: Request) -> LrsContext:
    """A dependency: the app's :class:`LrsContext`."""
    context: LrsContext = request.app.state.lrs
    return context
