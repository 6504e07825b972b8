"""The LRS API: the xAPI resources at the edge of the pipeline (FastAPI).

This module only wires: settings and long-lived clients into ``app.state.lrs``, one error
shape, and one router per resource (``pipelines/lrs/routers/``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pipelines.lrs.alternate import AlternateRequestSyntax
from pipelines.lrs.auth import ClientRegistry, registry_for
from pipelines.lrs.context import LrsContext
from pipelines.lrs.errors import install_handlers
from pipelines.lrs.metrics import RequestContext
from pipelines.lrs.producer import Producer
from pipelines.lrs.rejections import EdgeRejections
from pipelines.lrs.routers import about, caliper, documents, entities, health, quality, statements
from pipelines.lrs.settings import LrsSettings
from pipelines.lrs.watermark import Watermark
from stream.settings import KafkaSettings, PrivacySettings
from warehouse.blob_store import BlobSettings, BlobStore
from warehouse.client import Warehouse
from warehouse.document_store import DocumentStore
from warehouse.quality_store import QualityStore
from warehouse.record_store import RecordStore
from warehouse.settings import LrsStoreSettings, WarehouseSettings
from warehouse.sqlstore import store_engine
from warehouse.statement_store import StatementStore

log = structlog.get_logger(__name__)


def create_app(
    settings: LrsSettings | None = None,
    kafka: KafkaSettings | None = None,
    privacy: PrivacySettings | None = None,
    clients: ClientRegistry | None = None,
    warehouse: WarehouseSettings | None = None,
    store: LrsStoreSettings | None = None,
) -> FastAPI:
    settings = settings or LrsSettings()
    store = store or LrsStoreSettings()
    kafka = kafka or KafkaSettings()
    if settings.kafka_username:
        kafka = kafka.model_copy(
            update={"username": settings.kafka_username, "password": settings.kafka_password}
        )
    record = Warehouse(warehouse or WarehouseSettings())
    quality_store = QualityStore(record)
    ctx = LrsContext(
        settings=settings,
        kafka=kafka,
        hmac_key=(privacy or PrivacySettings()).key_bytes((warehouse or WarehouseSettings()).url),
        producer=Producer(kafka),
        clients=clients or registry_for(settings, store),
        statements=StatementStore(record),
        records=RecordStore(record),
        blobs=BlobStore(BlobSettings()),
        watermark=Watermark(kafka),
        rejections=EdgeRejections(quality_store),
        quality=quality_store,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await ctx.producer.get()
        except Exception as exc:  # the broker may come up later; requests will retry
            log.warning("kafka not reachable at start-up", error=repr(exc))
        await ctx.watermark.start()
        await ctx.rejections.start()
        yield
        await ctx.rejections.stop()
        await ctx.watermark.stop()
        await ctx.producer.stop()

    app = FastAPI(title="Learning-records LRS (xAPI)", lifespan=lifespan)
    # Outermost last: CORS answers preflights before anything else; the alternate request
    # syntax is rewritten into the request it stands for before routing.
    app.add_middleware(AlternateRequestSyntax, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization", "Content-Type", "X-Experience-API-Version", "If-Match",
            "If-None-Match", "Accept-Language",
        ],
        expose_headers=[
            "ETag", "Last-Modified", "X-Experience-API-Consistent-Through",
            "X-Experience-API-Version", "Retry-After", "X-Request-Id",
        ],
    )  # fmt: skip
    app.state.lrs = ctx
    app.state.documents = DocumentStore(store_engine(store))
    install_handlers(app)
    app.include_router(about.router)
    app.include_router(health.router)
    app.include_router(statements.router)
    app.include_router(documents.router)
    app.include_router(entities.router)
    app.include_router(quality.router)
    app.include_router(caliper.router)
    return app
