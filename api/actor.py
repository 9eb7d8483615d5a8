"""How a write is attributed in audit trails: the key's role, id and label."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.deps import Principal
from core.models import ApiKey


def actor_label(session: Session, principal: Principal) -> str:
    """E.g. "admin-key:3 (support lead)"; the label is what a person recognises, the id what is unique."""
    key = session.get(ApiKey, principal.key_id)
    label = f" ({key.label})" if key is not None and key.label else ""
    return f"{principal.role}-key:{principal.key_id}{label}"
