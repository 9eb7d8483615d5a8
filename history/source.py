"""Feeds tickets to the search engine (the "tickets" collection)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from embeddings.collection import IndexedItem
from history.models import Ticket


class TicketSource:
    def load(
        self, session: Session, *, tenant_id: str, item_ids: Sequence[int] | None, with_vectors: bool
    ) -> list[IndexedItem]:
        columns = [
            Ticket.id,
            Ticket.external_id,
            Ticket.subject,
            Ticket.body,
            Ticket.channel,
            Ticket.locale,
            Ticket.tags,
            Ticket.tag_source,
            Ticket.created_at,
            Ticket.customer_id,
            Ticket.order_id,
            Ticket.resolved_by_article,
        ]
        if with_vectors:
            columns += [Ticket.embedding, Ticket.embedding_model]
        query = select(*columns).where(Ticket.tenant_id == tenant_id)
        if item_ids is not None:
            query = query.where(Ticket.id.in_(list(item_ids)))
        items = []
        for row in session.execute(query.order_by(Ticket.id)):
            items.append(
                IndexedItem(
                    item_id=row.id,
                    key=row.external_id,
                    text=f"{row.subject}\n{row.body}" if row.subject else row.body,
                    vector=row.embedding if with_vectors else None,
                    encoder=row.embedding_model if with_vectors else None,
                    channels=(row.channel,),
                    locale=row.locale,
                    labels=tuple(row.tags or ()),
                    timestamp=row.created_at.timestamp(),
                    extra={
                        "customer_id": row.customer_id,
                        "order_id": row.order_id,
                        "tag_source": row.tag_source,
                        "resolved_by_article": row.resolved_by_article,
                    },
                )
            )
        return items

    def store_vectors(
        self, session: Session, *, tenant_id: str, vectors: dict[int, bytes], encoder: str
    ) -> None:
        for ticket_id, vector in vectors.items():
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.tenant_id == tenant_id)
                .values(embedding=vector, embedding_model=encoder)
            )

    def ids(self, session: Session, *, tenant_id: str) -> list[int]:
        return list(
            session.scalars(select(Ticket.id).where(Ticket.tenant_id == tenant_id).order_by(Ticket.id))
        )
