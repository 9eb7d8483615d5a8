"""Prints the README's configuration table from the Settings model (a test keeps them in sync)."""

from __future__ import annotations

from core.settings import Settings


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "(per language, see core/settings.py)"
        else:
            default = "(none)" if field.default is None else field.default
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `DEFLECT_{name.upper()}` | `{default}` | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
