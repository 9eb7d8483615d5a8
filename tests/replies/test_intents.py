"""The semantic fallback of the question splitter, with the real multilingual encoder (loaded once)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.eval import app as eval_app
from core.reasons import EXAMPLES_PATH, load_examples
from core.settings import Settings
from embeddings.encoder import Encoder
from history import service as history_service
from history.schemas import OrderCreate
from replies.drafts import compose
from replies.intents import (
    HeadClassifier,
    IntentClassifier,
    classifier_for,
    head_for,
    head_of,
)
from replies.schemas import DraftCreate, DraftRead
from replies.segmentation import segment
from runtime import Runtime
from tests.conftest import make_tenant
from tests.replies.conftest import ORDERS
from tests.support.encoders import HashingEncoder

ROOT = Path(__file__).resolve().parents[2]
REPLY_TAGS = {
    "tracking",
    "return_label",
    "refund_status",
    "product_question",
    "damaged_in_transit",
    "cancellation",
    "wrong_item",
    "missing_item",
    "invoice",
    "delivery_change",
}


@pytest.fixture(scope="module")
def real_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp("intents") / "var", encoder="use+minilm"))
    runtime.migrate()
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def encoder(real_runtime: Runtime) -> Encoder:
    return real_runtime.search.encoder_for("articles")


@pytest.fixture(scope="module")
def classifier(encoder: Encoder) -> IntentClassifier:
    found = classifier_for(encoder)
    assert found is not None
    return found


def test_examples_cover_every_reply_tag_in_five_languages_and_are_not_copied_from_eval_sets() -> None:
    import yaml

    data = yaml.safe_load(EXAMPLES_PATH.read_text(encoding="utf-8"))
    # "other": requests no reason tag covers, so that they are not pushed onto the nearest tag.
    assert REPLY_TAGS | {"none", "other"} == set(data)
    assert all(set(per_locale) == {"en", "fr", "de", "es", "it"} for per_locale in data.values())
    examples = load_examples()
    evaluation = _request_texts(
        [
            ROOT / "demo/draft_requests.jsonl",
            *sorted((ROOT / "tests/replies/data").glob("*draft_requests.jsonl")),
        ]
    )
    assert not [phrase for _, phrase in examples if phrase in evaluation]
    # The development and held-out shops share greetings and "where is my order" with anyone; a
    # request of five words or more found in them would be copied.
    shops = _request_texts(
        sorted([*ROOT.glob("devshops/*/draft_requests.jsonl"), *ROOT.glob("holdout/*/draft_requests.jsonl")])
    )
    assert shops
    requests = [phrase for tag, phrase in examples if tag != "none"]
    assert not [phrase for phrase in requests if len(phrase.split()) >= 5 and phrase in shops]


def _request_texts(paths: list[Path]) -> str:
    """Every draft request's text in these JSONL files, in one string to search."""
    return " ".join(
        json.loads(line)["text"]
        for path in paths
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


@pytest.mark.parametrize(
    ("sentence", "topic"),
    [
        ("Any news about my parcel?", "tracking"),
        ("Das Paket ist noch nicht bei mir.", "tracking"),
        ("¿Me podéis devolver el dinero ya?", "refund_status"),
        ("Je voudrais une facture à mon nom.", "invoice"),
        ("Could you stop my order, I don't need it anymore.", "cancellation"),
    ],
)
def test_unseen_phrasings_get_their_tag(classifier: IntentClassifier, sentence: str, topic: str) -> None:
    assert classifier.classify([sentence])[0].topic == topic


@pytest.mark.parametrize(
    "chit_chat",
    ["Thanks!", "Hello", "Merci beaucoup !", "Vielen Dank und schönes Wochenende.", "Grazie mille", "Hola"],
)
def test_chit_chat_is_not_tagged(classifier: IntentClassifier, chit_chat: str) -> None:
    guess = classifier.classify([chit_chat])[0]
    assert guess.topic is None and guess.best == "none"


def test_fallback_finds_what_the_patterns_miss_and_overrules_an_ambiguous_word(
    classifier: IntentClassifier,
) -> None:
    text = (
        "Could you tell me how my parcel is getting on? "
        "Oh and I'd like a proper invoice with my company name."
    )
    assert [q.topic for q in segment(text)] == ["other", "invoice"]
    with_fallback = segment(text, classifier)
    assert [(q.topic, q.detected_by) for q in with_fallback] == [
        ("tracking", "examples"),
        ("invoice", "pattern"),
    ]
    # "return" alone is ambiguous: the sentence asks about money.
    money = "I sent the towels back last week. Did the return arrive and when do I get my money?"
    assert [q.topic for q in segment(money)] == ["return_label", "refund_status"]
    assert [q.topic for q in segment(money, classifier)] == ["refund_status"]
    assert segment("Hello. Thanks!", classifier) == []


def test_example_vectors_are_computed_once_per_encoder(
    encoder: Encoder, classifier: IntentClassifier
) -> None:
    again = IntentClassifier(encoder)
    assert again._examples is classifier._examples
    assert classifier_for(HashingEncoder()) is None  # trigram hashing has no meaning to compare


def _draft(runtime: Runtime, tenant_id: str, **request: Any) -> DraftRead:
    with runtime.session() as session:
        return compose(
            session,
            tenant_id=tenant_id,
            settings=runtime.settings,
            engine=runtime.search,
            request=DraftCreate(**request),
        )


def test_composer_uses_the_fallback_with_the_service_encoder(real_runtime: Runtime) -> None:
    tenant_id = make_tenant(real_runtime, "intents").tenant_id
    with real_runtime.session() as session:
        for order in ORDERS:
            history_service.upsert_order(
                session, tenant_id=tenant_id, order_in=OrderCreate.model_validate(order)
            )
    draft = _draft(
        real_runtime,
        tenant_id,
        channel="amazon",
        locale="en",
        order_id="113-4455667-1234567",
        text="Hi! Any news about my parcel? Thanks!",
    )
    assert [(q.topic, q.status) for q in draft.questions] == [("tracking", "answered")]
    assert "00340434190012877645" in draft.reply and draft.fact_check.passed


@pytest.fixture(scope="module")
def head(encoder: Encoder) -> HeadClassifier:
    found = head_for(encoder)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("sentence", "topic"),
    [
        ("Any news about my parcel?", "tracking"),
        ("Das Paket ist noch nicht bei mir.", "tracking"),
        ("¿Me podéis devolver el dinero ya?", "refund_status"),
        ("Je voudrais une facture à mon nom.", "invoice"),
        ("Could you stop my order, I don't need it anymore.", "cancellation"),
    ],
)
def test_head_tags_unseen_phrasings(head: HeadClassifier, sentence: str, topic: str) -> None:
    guess = head.classify([sentence])[0]
    assert guess.topic == topic and guess.score >= head.floor


@pytest.mark.parametrize(
    "chit_chat",
    ["Thanks!", "Hello", "Merci beaucoup !", "Vielen Dank und schönes Wochenende.", "Grazie mille", "Hola"],
)
def test_head_leaves_chit_chat_untagged(head: HeadClassifier, chit_chat: str) -> None:
    guess = head.classify([chit_chat])[0]
    assert guess.topic is None and guess.topics == () and guess.best == "none"


def test_head_floor_is_the_none_outcome(head: HeadClassifier) -> None:
    row = head.probabilities(["Where is my parcel?"])[0]
    assert head.decide(row, floor=0.0).topic == "tracking"
    # Over the best probability nothing is sure enough: the sentence is left to the agent, not guessed.
    assert head.decide(row, floor=float(row.max()) + 1e-3).topics == ()


def test_tenant_tickets_teach_the_head_the_shops_wording(encoder: Encoder) -> None:
    # A shop whose customers say "ghosted" for a parcel with no scan: generic examples never say that.
    wording = "The courier ghosted my order, no scan since"
    tickets = [
        (["tracking"], f"{wording} {day}. Order 4411-{n}.")
        for n, day in enumerate(["Monday", "Tuesday", "the weekend", "Friday", "last week", "Sunday"])
    ]
    generic = HeadClassifier(encoder)
    taught = HeadClassifier(encoder, extra=tickets, extra_key="test:ghosted")
    sentence = "The courier ghosted my order again, no scan since Thursday."
    before = generic.probabilities([sentence])[0][generic.labels.index("tracking")]
    after = taught.probabilities([sentence])[0][taught.labels.index("tracking")]
    assert after > before and taught.classify([sentence])[0].topic == "tracking"


def test_head_in_the_splitter_tags_requests_and_drops_chit_chat(head: HeadClassifier) -> None:
    text = "Hello. The frame arrived cracked. Thanks!"
    assert [q.topic for q in segment(text, head)] == ["damaged_in_transit"]
    assert segment("Hello. Thanks a lot, have a nice day!", head) == []


def test_a_question_under_the_floor_is_left_to_the_agent_with_its_closest_reason(encoder: Encoder) -> None:
    strict = HeadClassifier(encoder, floor=0.999)
    text = "Any chance you could look up how my parcel is getting on?"
    (question,) = segment(text, strict, mode="all")
    # Nothing is sure enough to write a tracking paragraph: an open question, with what it was closest to.
    assert question.topic == "other"
    assert question.closest.startswith("tracking at ") and question.closest.endswith("floor 1.00")
    # The surest reason comes first (with the 770 added examples a second, delivery change at 0.71, also
    # passes the floor here: the extra tags measured in eval/results/questions-loso.md).
    sure = segment(text, HeadClassifier(encoder), mode="all")[0]
    assert (sure.topic, sure.detected_by, sure.floor) == (
        "tracking",
        "examples",
        HeadClassifier(encoder).floor,
    )


def test_a_statement_is_not_answered(real_runtime: Runtime) -> None:
    tenant_id = make_tenant(real_runtime, "statements").tenant_id
    with real_runtime.session() as session:
        draft = compose(
            session,
            tenant_id=tenant_id,
            settings=real_runtime.settings,
            engine=real_runtime.search,
            request=DraftCreate(
                channel="email",
                locale="en",
                text="Hello. I bought the lamp for my new flat last month. Thanks!",
            ),
        )
    assert draft.questions == [] and not draft.ready_to_send


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tracking: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("tracking:\n  en: Where is my order?\n", "tag 'tracking', language 'en'"),
        ("tracking:\n  en:\n    - ''\n", "non-empty phrases"),
    ],
)
def test_a_broken_examples_file_is_refused_naming_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "examples.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(problem)):
        load_examples(path)
    result = CliRunner().invoke(eval_app, ["questions", "--examples", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output.replace("\n", "") and problem in result.output.replace("\n", "")


def test_the_heads_matrix_reads_the_same_probabilities_as_sklearn() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(120, 16)).astype(np.float32)
    targets = (rng.random((120, 4)) < 0.3).astype(np.int64)
    targets[0] = 1  # every label has positives
    model = OneVsRestClassifier(LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000))
    model.fit(vectors, targets)
    head = head_of(("a", "b", "c", "d"), model)
    probe = rng.normal(size=(9, 16)).astype(np.float32)
    assert np.allclose(head.probabilities(probe), model.predict_proba(probe), atol=1e-5)


def test_an_open_question_is_answered_by_the_sellers_page_on_it_not_by_an_order_reasons_page(
    real_runtime: Runtime,
) -> None:
    from kb import service as kb_service
    from kb.schemas import ArticleCreate

    tenant_id = make_tenant(real_runtime, "open-pages").tenant_id
    pages = [
        {
            "id": "kb-refunds",
            "title": "Refunds to your card, PayPal or Bizum",
            "body": "Refunds go back to the card, PayPal or Bizum account you paid with, within 5 days of "
            "the return reaching us. Paid with Bizum? The refund shows in the Bizum app.",
            "locale": "en",
            "tags": ["refund_status"],
        },
        {
            "id": "kb-payment",
            "title": "Payment methods",
            "body": "At checkout we accept Visa, Mastercard, PayPal and Bizum.",
            "locale": "en",
            "tags": ["other"],
        },
    ]
    with real_runtime.session() as session:
        for page in pages:
            kb_service.upsert(session, tenant_id=tenant_id, article_in=ArticleCreate.model_validate(page))
    real_runtime.search.catch_up(tenant_id, "articles")
    draft = _draft(real_runtime, tenant_id, channel="shopify", locale="en", text="Can I pay with Bizum?")
    (question,) = draft.questions
    assert question.status == "answered" and question.article_id == "kb-payment"
