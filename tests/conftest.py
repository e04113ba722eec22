"""What every test file shares: the repository root, the unit tests' seeds and the claim seeds (one
place; the environment variable ``CLAIM_SEEDS`` overrides the claim seeds, e.g.
``CLAIM_SEEDS=20-39 python -m pytest tests/test_claims_ch04.py``)."""

from pathlib import Path

import pytest

from lib.chapters import claim_seeds

ROOT = Path(__file__).resolve().parent.parent
CLAIM_SEEDS = claim_seeds()
# The random inputs of the unit tests of lib (gradient checks, shapes): fixed, they assert no claim.
UNIT_TEST_SEEDS = (0, 1, 2)


@pytest.fixture(scope="session")
def seeds() -> tuple[int, ...]:
    """The claim seeds, for tests that take them as a fixture."""
    return CLAIM_SEEDS
