"""Lossless, reversible ticket merges: members keep every message, one primary gets the reply."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConflictError, InvalidInputError, NotFoundError
from history.lookup import ticket_order_ids
from history.models import MergeAudit, MergeGroup, Ticket
from history.schemas import CourtesyNote, MergeRead
from replies.macros import RenderedMacro, render_macro

OPEN_STATUSES = ("open", "pending")

# The courtesy note is the tenant's current version of this locked macro (replies/templates), so its
# wording is vetted once per language and every note records the version it was rendered from.
COURTESY_MACRO_KEY = "merged_note"


def courtesy_note(
    session: Session, *, tenant_id: str, channel: str, locale: str, order_id: str | None
) -> RenderedMacro:
    """The locked courtesy text in the customer's language; MacroRenderError rather than no note."""
    return render_macro(
        session,
        tenant_id=tenant_id,
        key=COURTESY_MACRO_KEY,
        channel=channel,
        locale=locale,
        variables={"order_id": order_id},
    )


def choose_primary(tickets: list[Ticket], statuses: dict[int, str]) -> Ticket:
    """The oldest open Amazon thread when there is one (its 24-hour clock runs), else the oldest ticket."""
    by_age = sorted(tickets, key=lambda t: (t.created_at, t.id))
    amazon_open = [t for t in by_age if t.channel == "amazon" and statuses[t.id] in OPEN_STATUSES]
    if amazon_open:
        return amazon_open[0]
    amazon = [t for t in by_age if t.channel == "amazon"]
    return amazon[0] if amazon else by_age[0]


def _tickets(session: Session, tenant_id: str, ticket_ids: list[str]) -> list[Ticket]:
    wanted = list(dict.fromkeys(ticket_ids))
    found = {
        t.external_id: t
        for t in session.scalars(
            select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.external_id.in_(wanted))
        )
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"ticket(s) not found: {', '.join(missing)}")
    return [found[i] for i in wanted]


def to_read(session: Session, group: MergeGroup) -> MergeRead:
    members = list(
        session.scalars(
            select(Ticket.external_id).where(
                Ticket.tenant_id == group.tenant_id, Ticket.merge_group_id == group.id
            )
        )
    )
    if not members:  # undone or superseded groups list the tickets they held
        members = list(group.before.get("tickets", {}))
    primary = session.get(Ticket, group.primary_ticket_id)
    return MergeRead(
        id=group.id,
        status=group.status,
        primary_ticket_id=primary.external_id if primary else "",
        ticket_ids=sorted(members),
        reason=group.reason,
        created_by=group.created_by,
        created_at=group.created_at,
        notes=[CourtesyNote(**n) for n in group.notes],
    )


def merge_tickets(
    session: Session, *, tenant_id: str, ticket_ids: list[str], actor: str, reason: str
) -> MergeGroup:
    """Merges tickets (and the groups they already belong to) into one new group; nothing is deleted."""

    tickets = _tickets(session, tenant_id, ticket_ids)
    old_group_ids = {t.merge_group_id for t in tickets if t.merge_group_id is not None}
    if old_group_ids:
        tickets += [
            t
            for t in session.scalars(
                select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.merge_group_id.in_(old_group_ids))
            )
            if t not in tickets
        ]
    if len(tickets) < 2:
        raise InvalidInputError("a merge needs at least two distinct tickets")
    old_groups = list(session.scalars(select(MergeGroup).where(MergeGroup.id.in_(old_group_ids))))
    before: dict[str, Any] = {
        "tickets": {t.external_id: {"merge_group_id": t.merge_group_id, "status": t.status} for t in tickets},
        "groups": {str(g.id): g.status for g in old_groups},
    }
    # A member of an earlier merge carries "merged"; its status before that merge decides if it is open.
    earlier_status = {t.id: t.status for t in tickets}
    for group in old_groups:
        for external_id, state in group.before.get("tickets", {}).items():
            for t in tickets:
                if t.external_id == external_id and t.status == "merged":
                    earlier_status[t.id] = state["status"]
    primary = choose_primary(tickets, earlier_status)
    primary_orders = ticket_order_ids(primary)
    group = MergeGroup(
        tenant_id=tenant_id,
        primary_ticket_id=primary.id,
        reason=reason,
        created_by=actor,
        before=before,
        notes=[],
    )
    session.add(group)
    session.flush()
    notes = []
    for ticket in tickets:
        ticket.merge_group_id = group.id
        if ticket.id == primary.id:
            ticket.status = earlier_status[ticket.id]
            continue
        ticket.status = "merged"
        shared = [o for o in ticket_order_ids(ticket) if o in primary_orders]
        candidates = shared or primary_orders or ticket_order_ids(ticket)
        order_id = candidates[0] if candidates else None
        note = courtesy_note(
            session, tenant_id=tenant_id, channel=ticket.channel, locale=ticket.locale, order_id=order_id
        )
        notes.append(
            CourtesyNote(
                ticket_id=ticket.external_id,
                channel=ticket.channel,
                locale=ticket.locale,
                text=note.text,
                macro_key=note.key,
                macro_locale=note.locale,
                macro_version=note.version,
            ).model_dump()
        )
    group.notes = notes
    for old in old_groups:
        old.status = "superseded"
    session.add(
        MergeAudit(
            tenant_id=tenant_id,
            group_id=group.id,
            action="merge",
            actor=actor,
            reason=reason,
            ticket_ids=sorted(t.external_id for t in tickets),
        )
    )
    session.flush()
    return group


def get_group(session: Session, *, tenant_id: str, group_id: int) -> MergeGroup:
    group = session.get(MergeGroup, group_id)
    if group is None or group.tenant_id != tenant_id:
        raise NotFoundError(f"merge {group_id} not found")
    return group


def undo_merge(session: Session, *, tenant_id: str, group_id: int, actor: str, reason: str) -> MergeGroup:
    """Restores every ticket and earlier group exactly as they were before the merge."""
    group = get_group(session, tenant_id=tenant_id, group_id=group_id)
    if group.status != "active":
        raise ConflictError(
            f"merge {group_id} is {group.status}; only the active merge of a ticket can be undone"
        )
    states: dict[str, dict[str, Any]] = group.before["tickets"]
    tickets = _tickets(session, tenant_id, list(states))
    for ticket in tickets:
        ticket.merge_group_id = states[ticket.external_id]["merge_group_id"]
        ticket.status = states[ticket.external_id]["status"]
    for old_id, status in group.before.get("groups", {}).items():
        old = session.get(MergeGroup, int(old_id))
        if old is not None:
            old.status = status
    group.status = "undone"
    session.add(
        MergeAudit(
            tenant_id=tenant_id,
            group_id=group.id,
            action="undo",
            actor=actor,
            reason=reason,
            ticket_ids=sorted(states),
        )
    )
    session.flush()
    return group
