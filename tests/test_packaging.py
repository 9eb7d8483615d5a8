"""The image and the wheel ship the same packages: a package added to one and forgotten in the other
fails at import on a deployment, never on a developer's checkout."""

from __future__ import annotations

import re
import tomllib

from core.settings import ROOT


def _packaged() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in patterns}


def test_every_packaged_package_is_copied_into_the_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, flags=re.MULTILINE))
    assert _packaged() - copied == set(), "packages missing from the Dockerfile"


def test_every_top_level_package_is_packaged() -> None:
    on_disk = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "migrations", "scripts"}  # dev tools, not the service
    }
    assert on_disk - _packaged() == set(), "packages the wheel would leave out"
