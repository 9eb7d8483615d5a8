"""`python -m tests.support.serve <deflect arguments>`: the real `deflect` tree, hashing encoder injected.

Subprocess tests (servers, importers, crash and load runs) start this instead of `python -m bootstrap`,
so the production CLI needs no test-only encoder name.
"""

from __future__ import annotations

from bootstrap import main
from tests.support.encoders import HASHING

if __name__ == "__main__":
    main(HASHING)
