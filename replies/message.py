"""What the customer wrote this time: no quoted earlier mail, no signature, no subject a form filled in."""

from __future__ import annotations

from functools import lru_cache

from core.text import newest_reply
from kb.contact_form import TOPIC_SUBJECTS

# The contact form writes its topic as the subject ("Damaged or missing item"): the customer chose a
# category, they did not ask it as a question.
FORM_SUBJECTS = frozenset(subject.casefold() for subject in TOPIC_SUBJECTS.values())


@lru_cache(maxsize=2048)
def latest_reply(body: str) -> str:
    """The newest part of a mail body: quoted earlier messages, signatures and disclaimers removed.

    A body that mail-parser-reply reduces to nothing is kept whole rather than lose the customer's words.
    """
    if not body.strip():
        return body
    return newest_reply(body) or body.strip()


def is_form_subject(subject: str | None) -> bool:
    return subject is not None and subject.strip().casefold() in FORM_SUBJECTS


def customer_message(subject: str | None, body: str) -> str:
    """The text whose questions a reply must answer: the subject a person wrote, then the newest reply."""
    newest = latest_reply(body)
    if not subject or not subject.strip() or is_form_subject(subject):
        return newest
    return f"{subject.strip()}\n{newest}"
