"""Demo data for replies: the seed macros for the demo tenant."""

from __future__ import annotations

from core.runtime import Runtime
from replies.macros import ensure_seeded


def load_demo(runtime: Runtime, tenant: str) -> None:
    with runtime.session() as session:
        ensure_seeded(session, tenant_id=tenant)
