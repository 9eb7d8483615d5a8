"""Domain errors raised by services; api/errors.py maps each to one HTTP status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DeflectError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundError(DeflectError):
    code = "not_found"


class ConflictError(DeflectError):
    code = "conflict"


class InvalidInputError(DeflectError):
    code = "invalid_input"


class ForbiddenError(DeflectError):
    code = "forbidden"


class UnauthorizedError(DeflectError):
    code = "unauthorized"


class RateLimitedError(DeflectError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class IndexMismatchError(DeflectError):
    """An index on disk was built with another model than the one configured."""

    code = "index_mismatch"


@dataclass(frozen=True)
class LineError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ImportFileError(InvalidInputError):
    """A whole import file was rejected; nothing from it was written."""

    code = "import_rejected"

    def __init__(self, errors: list[LineError]) -> None:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(
            f"{len(errors)} bad line(s), nothing imported: {shown}{more}",
            details=[{"file": e.file, "line": e.line, "reason": e.reason} for e in errors],
        )
        self.errors = errors
