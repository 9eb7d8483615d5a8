"""Benchmark (slow): messages per second from a real Dovecot mailbox into tickets, per encoder."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from channels import inbound
from embeddings.encoder import load_encoder
from history.models import Ticket
from runtime import Runtime
from tests.channels.conftest import make_mailbox
from tests.channels.mails import MARKETPLACE_TEXTS, marketplace_mail, shop_mail
from tests.channels.servers import Dovecot
from tests.support.encoders import hashing_encoders

MAILS = 500


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["hashing", "use+minilm"])
def test_mailbox_throughput(runtime: Runtime, dovecot: Dovecot, encoder: str) -> None:
    runtime.settings.encoder = encoder  # type: ignore[assignment]
    # The fixture injects the hashing encoder; the model rows load the bundled model instead.
    runtime.encoders = hashing_encoders if encoder == "hashing" else load_encoder
    runtime.settings.mail_batch_size = 25
    box = make_mailbox(runtime, dovecot)
    langs = list(MARKETPLACE_TEXTS)
    raws = []
    for i in range(MAILS):
        channel = ("amazon", "ebay", "walmart", "shop")[i % 4]
        lang = langs[i % 5]
        raws.append(
            shop_mail(lang, i, box.user)[0]
            if channel == "shop"
            else marketplace_mail(channel, lang, i, box.user)[0]
        )
    dovecot.append(box.user, raws)
    runtime.search.encoder.encode(["warm up"], kind="passage")  # model load is not throughput

    started = time.perf_counter()
    report = inbound.poll_mailbox(
        runtime.session_factory, runtime.search, runtime.settings, mailbox_id=box.mailbox_id
    )
    seconds = time.perf_counter() - started

    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == MAILS
    assert report.created == MAILS
    print(f"\n{encoder}: {MAILS} messages in {seconds:.1f} s = {MAILS / seconds:.1f} messages/s")
