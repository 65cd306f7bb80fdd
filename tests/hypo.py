"""How many examples a property test draws: its own number in `make test` (seeded, the same every run),
ten times as many under `make test-fuzz` (HYPOTHESIS_PROFILE=fuzz, fresh random inputs)."""

import os


def examples(n: int) -> int:
    return n * 10 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else n
