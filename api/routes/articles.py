from __future__ import annotations

from fastapi import APIRouter, Query, Response

from api.deps import AdminDep, PublicDep, SessionDep, TransactionRoute
from core.schemas import ImportReport
from insights import audit
from kb import service
from kb.schemas import ArticleCreate, ArticlePage, ArticleRead, ArticleUpdate

router = APIRouter(prefix="/v1/articles", tags=["articles"], route_class=TransactionRoute)
OverrideReason = Query(
    None,
    max_length=audit.MAX_REASON_CHARS,
    description="Publish an Amazon-scoped article despite blocking compliance violations; "
    "recorded with who and when",
)


@router.get("", response_model=ArticlePage)
def list_articles(
    principal: PublicDep,
    session: SessionDep,
    offset: int = Query(0, ge=0, le=100_000),
    limit: int = Query(50, ge=1, le=200),
    tag: str | None = Query(None, max_length=50),
    channel: str | None = Query(None, max_length=20),
    locale: str | None = Query(None, max_length=20),
) -> ArticlePage:
    """A page of articles (the help centre lists them by topic)."""
    articles, total = service.list_(
        session,
        tenant_id=principal.tenant_id,
        offset=offset,
        limit=limit,
        tag=tag,
        channel=channel,
        locale=locale,
    )
    return ArticlePage(items=[service.to_read(a) for a in articles], total=total, offset=offset, limit=limit)


@router.get("/{article_id}", response_model=ArticleRead)
def get_article(article_id: str, principal: PublicDep, session: SessionDep) -> ArticleRead:
    return service.to_read(service.get(session, tenant_id=principal.tenant_id, external_id=article_id))


@router.post("", response_model=ArticleRead, status_code=201)
def create_article(
    body: ArticleCreate,
    principal: AdminDep,
    session: SessionDep,
    override_reason: str | None = OverrideReason,
) -> ArticleRead:
    """Creates or replaces an article by id (Amazon-scoped: refused with 422 on a blocking compliance
    violation)."""
    audit.check_publish(
        session,
        tenant_id=principal.tenant_id,
        article_in=body,
        actor=principal.actor,
        override_reason=override_reason,
    )
    article, _ = service.upsert(session, tenant_id=principal.tenant_id, article_in=body)
    return service.to_read(article)


@router.post("/import", response_model=ImportReport)
def import_articles(
    body: list[ArticleCreate],
    principal: AdminDep,
    session: SessionDep,
    override_reason: str | None = OverrideReason,
) -> ImportReport:
    """A batch of articles in the articles.jsonl shape: all or nothing."""
    actor = principal.actor
    for article_in in body:
        audit.check_publish(
            session,
            tenant_id=principal.tenant_id,
            article_in=article_in,
            actor=actor,
            override_reason=override_reason,
        )
    return service.import_articles(session, tenant_id=principal.tenant_id, articles=body, file="request body")


@router.patch("/{article_id}", response_model=ArticleRead)
def update_article(
    article_id: str,
    body: ArticleUpdate,
    principal: AdminDep,
    session: SessionDep,
    override_reason: str | None = OverrideReason,
) -> ArticleRead:
    article_in = service.merged(
        session, tenant_id=principal.tenant_id, external_id=article_id, article_up=body
    )
    audit.check_publish(
        session,
        tenant_id=principal.tenant_id,
        article_in=article_in,
        actor=principal.actor,
        override_reason=override_reason,
    )
    article, _ = service.upsert(session, tenant_id=principal.tenant_id, article_in=article_in)
    return service.to_read(article)


@router.delete("/{article_id}", status_code=204)
def delete_article(article_id: str, principal: AdminDep, session: SessionDep) -> Response:
    """Deletes the article; it leaves every index at the next sync."""
    service.delete(session, tenant_id=principal.tenant_id, external_id=article_id)
    return Response(status_code=204)
