"""Search engines for offline evaluation: in memory, no database, no snapshots."""

from __future__ import annotations

from core.settings import get_settings
from embeddings.encoder import EncoderLoader, load_encoder
from indexing.engine import SearchEngine


def make_engine(
    encoder_name: str | None, *, articles: bool = False, encoders: EncoderLoader = load_encoder
) -> SearchEngine:
    """An engine without database or snapshots: evaluation indexes in memory only.

    Without an explicit encoder, article collections get the API's article encoder
    (`DEFLECT_ARTICLE_ENCODER`), everything else `DEFLECT_ENCODER`.
    """
    settings = get_settings()
    default = (
        getattr(settings, "resolved_article_encoder", settings.encoder) if articles else settings.encoder
    )
    encoder = encoders(
        encoder_name or default,
        batch_size=settings.encoder_batch_size,
        threads=settings.encoder_threads,
        precision=settings.encoder_precision,
    )
    return SearchEngine(
        encoder=encoder,
        session_factory=None,
        snapshot_dir=None,
        rrf_k=settings.rrf_k,
        bm25_weight=settings.bm25_weight,
    )
