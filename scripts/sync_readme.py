"""Rewrites the configuration table in README.md from the Settings model."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.settings_table import settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    block = f"<!-- settings-table:start -->\n{settings_table()}\n<!-- settings-table:end -->"
    README.write_text(
        re.sub(
            r"<!-- settings-table:start -->.*<!-- settings-table:end -->", lambda _: block, text, flags=re.S
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
