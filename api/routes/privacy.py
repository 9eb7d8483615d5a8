"""GDPR: a customer's data export (agent) and erasure (admin, irreversible)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AdminDep, AgentDep, RowId, SessionDep, TransactionRoute
from privacy import service as privacy

router = APIRouter(prefix="/v1/customers", tags=["privacy"], route_class=TransactionRoute)


@router.get("/{customer_id}/export")
def export_customer(customer_id: RowId, principal: AgentDep, session: SessionDep) -> dict[str, Any]:
    """Everything held about the customer: identities, orders, messages, drafts (the export is audited)."""
    return privacy.export_customer(
        session, tenant_id=principal.tenant_id, customer_id=customer_id, actor=principal.actor
    )


@router.delete("/{customer_id}")
def erase_customer(customer_id: RowId, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Erases the customer's personal data from the database and the search index; orders stay, anonymised.

    Returns the audit record's counts. Irreversible, hence admin only.
    """
    counts = privacy.erase_customer(
        session, tenant_id=principal.tenant_id, customer_id=customer_id, actor=principal.actor
    )
    return {"customer_id": customer_id, "erased": counts}
