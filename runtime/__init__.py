"""Everything a process needs at run time, built once from Settings: DB, sessions, search engine.

This layer sits above every domain so it can wire them with plain imports: the item sources that
feed the search engine and the ORM models that make up the schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

# Every domain's models, imported for their side effect of registering tables on Base.metadata
# (create_all, Alembic autogenerate).
import channels.models  # noqa: F401
import core.models  # noqa: F401
import history.models  # noqa: F401
import kb.events  # noqa: F401
import kb.models  # noqa: F401
import replies.models  # noqa: F401
from core.db import make_engine, make_session_factory, session_scope
from core.ratelimit import RateLimits
from core.settings import ROOT, Settings
from embeddings.encoder import EncoderLoader, load_encoder
from history.source import TicketSource
from indexing.engine import ItemSource, SearchEngine
from indexing.pgsearch import PgSearchEngine, install_write_through
from kb.source import ArticleChunkSource

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)


def item_sources() -> dict[str, ItemSource]:
    """Collection name -> the domain source that turns its rows into searchable items."""
    return {"articles": ArticleChunkSource(), "tickets": TicketSource()}


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


@cache
def _head_revisions() -> set[str]:
    """The migration scripts' heads, read once per process (they do not change while it runs)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


class Runtime:
    """`encoders` builds the encoders the settings name; tests inject a model-free one here."""

    def __init__(self, settings: Settings, *, encoders: EncoderLoader = load_encoder) -> None:
        self.settings = settings
        self.encoders = encoders
        self.db_engine = make_engine(settings)
        self.session_factory = make_session_factory(self.db_engine)
        if self.vectors_in_database:
            # Every transaction writes its search rows before it commits; the engine (and its encoder)
            # is only built when a transaction has something to write.
            install_write_through(self.session_factory, self._pg_search)

    @property
    def vectors_in_database(self) -> bool:
        """pgvector: the search index is the database, so replicas hold no index and replay nothing."""
        return self.settings.resolved_vector_backend == "pgvector"

    def _pg_search(self) -> PgSearchEngine:
        search = self.search
        assert isinstance(search, PgSearchEngine)
        return search

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.session_factory) as session:
            yield session

    @cached_property
    def limits(self) -> RateLimits:
        """Request limits and failed-check counters, shared by the HTTP layer and the services."""
        return RateLimits(self.settings.redis_url or "memory://")

    @cached_property
    def search(self) -> SearchEngine:
        encoder = self.encoders(
            self.settings.encoder,
            batch_size=self.settings.encoder_batch_size,
            threads=self.settings.encoder_threads,
            precision=self.settings.encoder_precision,
        )
        collection_encoders = {}
        if self.settings.resolved_article_encoder != self.settings.encoder:
            collection_encoders["articles"] = self.encoders(
                self.settings.resolved_article_encoder,
                batch_size=self.settings.encoder_batch_size,
                threads=self.settings.encoder_threads,
                precision=self.settings.encoder_precision,
            )
        if self.vectors_in_database:
            return PgSearchEngine(
                encoder=encoder,
                collection_encoders=collection_encoders,
                session_factory=self.session_factory,
                rrf_k=self.settings.rrf_k,
                bm25_weight=self.settings.bm25_weight,
                sources=item_sources(),
                ef_search=self.settings.pgvector_ef_search,
                exact_max=self.settings.pgvector_exact_max,
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
            backend="numpy" if self.settings.resolved_vector_backend == "numpy" else "faiss",
            sources=item_sources(),
        )
        return engine

    def migrate(self) -> None:
        """Brings the schema to the newest Alembic revision (SQLite and PostgreSQL alike)."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = _alembic_config()
        config.attributes["sqlalchemy_url"] = self.settings.sqlalchemy_url
        with self.db_engine.begin() as connection:
            # Every start (and every test app) lands here; at head, `upgrade` would still load and run
            # every revision file only to find nothing to do (0.1 s a time).
            current = set(MigrationContext.configure(connection).get_current_heads())
            if current != _head_revisions():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        if self.vectors_in_database:
            # Each model's HNSW index depends on its dimension, known only once the encoder is configured.
            self._pg_search().ensure_models()

    def close(self) -> None:
        self.db_engine.dispose()
