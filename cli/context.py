"""What the composition root hands every command: how to build encoders (tests inject a model-free one).

`bootstrap.main(wiring)` runs the command tree inside `wired(wiring)`; a command invoked any other way
gets the production default (the bundled models).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from core.settings import Settings, get_settings
from embeddings.encoder import EncoderLoader, load_encoder
from runtime import Runtime


@dataclass(frozen=True)
class Wiring:
    encoders: EncoderLoader = load_encoder

    @property
    def injected(self) -> bool:
        """True when something other than the bundled models builds the encoders."""
        return self.encoders is not load_encoder


# A context variable rather than click's context object: typer vendors its own click, whose context
# API is private, and every command would need a `ctx` parameter just to pass this on.
_current: ContextVar[Wiring | None] = ContextVar("deflect_wiring", default=None)


@contextmanager
def wired(wiring: Wiring) -> Iterator[None]:
    """Commands run inside this block build their runtimes and eval engines with `wiring`."""
    token = _current.set(wiring)
    try:
        yield
    finally:
        _current.reset(token)


def wiring() -> Wiring:
    return _current.get() or Wiring()


def make_runtime(settings: Settings | None = None) -> Runtime:
    """The process Runtime for a command, with the wiring's encoders."""
    return Runtime(settings or get_settings(), encoders=wiring().encoders)
