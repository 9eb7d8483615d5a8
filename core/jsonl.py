"""The one JSON Lines reader behind every import and evaluation file: all lines or none."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from core.errors import ImportFileError, LineError
from core.schemas import text_problem

T = TypeVar("T")


def validation_reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}" for err in exc.errors()
    )


def read_jsonl(
    path: Path, parse: Callable[[dict[str, Any]], T], *, key: Callable[[T], Hashable] | None = None
) -> list[T]:
    """Parses every non-blank line with `parse` (which raises ValueError on a bad object)."""
    return read_jsonl_numbered(path, lambda raw, _line: parse(raw), key=key)


def read_jsonl_numbered(
    path: Path, parse: Callable[[dict[str, Any], int], T], *, key: Callable[[T], Hashable] | None = None
) -> list[T]:
    """Like read_jsonl, with the line number passed to `parse` (e.g. for a default id).

    Raises ImportFileError listing each bad line as (file, line, reason): invalid JSON, not an
    object, rejected by `parse`, or a repeated `key`. Nothing is returned unless every line is good.
    """
    errors: list[LineError] = []
    rows: list[T] = []
    seen: dict[Hashable, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError([LineError(str(path), 0, f"cannot read file: {exc}")]) from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(LineError(str(path), number, f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(raw, dict):
            errors.append(LineError(str(path), number, "expected a JSON object"))
            continue
        problem = text_problem(raw)
        if problem:
            errors.append(LineError(str(path), number, problem))
            continue
        try:
            row = parse(raw, number)
        except ValidationError as exc:
            errors.append(LineError(str(path), number, validation_reason(exc)))
            continue
        except ValueError as exc:
            errors.append(LineError(str(path), number, str(exc)))
            continue
        if key is not None:
            row_key = key(row)
            if row_key in seen:
                errors.append(
                    LineError(str(path), number, f"duplicate id {row_key!r} (first on line {seen[row_key]})")
                )
                continue
            seen[row_key] = number
        rows.append(row)
    if errors:
        raise ImportFileError(errors)
    return rows
