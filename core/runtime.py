"""Everything a process needs at run time, built once from Settings: DB, sessions, search engine."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from core.db import import_all_models, make_engine, make_session_factory, session_scope
from core.ratelimit import RateLimits
from core.settings import Settings

if TYPE_CHECKING:
    from embeddings.engine import SearchEngine

log = logging.getLogger(__name__)

# collection name -> "module:Class" of its ItemSource (imported late: the domains import core).
ITEM_SOURCES = {
    "articles": "kb.source:ArticleChunkSource",
    "tickets": "history.source:TicketSource",
}

ROOT = Path(__file__).resolve().parents[1]


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        import_all_models()
        self.db_engine = make_engine(settings)
        self.session_factory = make_session_factory(self.db_engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.session_factory) as session:
            yield session

    @cached_property
    def limits(self) -> RateLimits:
        """Request limits and failed-check counters, shared by the HTTP layer and the services."""
        return RateLimits(self.settings.rate_limit_storage_uri)

    @cached_property
    def search(self) -> SearchEngine:
        from embeddings.encoder import load_encoder
        from embeddings.engine import SearchEngine

        encoder = load_encoder(
            self.settings.encoder,
            batch_size=self.settings.encoder_batch_size,
            threads=self.settings.encoder_threads,
        )
        collection_encoders = {}
        if self.settings.resolved_article_encoder != self.settings.encoder:
            collection_encoders["articles"] = load_encoder(
                self.settings.resolved_article_encoder,
                batch_size=self.settings.encoder_batch_size,
                threads=self.settings.encoder_threads,
            )
        engine = SearchEngine(
            encoder=encoder,
            collection_encoders=collection_encoders,
            session_factory=self.session_factory,
            snapshot_dir=self.settings.index_dir,
            index_kind=self.settings.index_kind,
            flat_max=self.settings.index_flat_max,
            rrf_k=self.settings.rrf_k,
            bm25_weight=self.settings.bm25_weight,
        )
        for collection, target in ITEM_SOURCES.items():
            module_name, class_name = target.split(":")
            engine.register_source(collection, getattr(importlib.import_module(module_name), class_name)())
        return engine

    def migrate(self) -> None:
        """Brings the schema to the newest Alembic revision (SQLite and PostgreSQL alike)."""
        from alembic import command
        from alembic.config import Config

        config = Config(str(ROOT / "alembic.ini"))
        config.set_main_option("script_location", str(ROOT / "migrations"))
        config.attributes["sqlalchemy_url"] = self.settings.sqlalchemy_url
        with self.db_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.db_engine.dispose()
