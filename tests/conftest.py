"""What every test file shares: the repository root and the claim seeds (one place; ``CLAIM_SEEDS``
overrides them, e.g. ``CLAIM_SEEDS=20-39 python -m pytest tests/test_claims_ch04.py``)."""

from pathlib import Path

import pytest

from lib.chapters import claim_seeds

ROOT = Path(__file__).resolve().parent.parent
CLAIM_SEEDS = claim_seeds()


@pytest.fixture(scope="session")
def seeds() -> tuple[int, ...]:
    """The claim seeds, for tests that take them as a fixture."""
    return CLAIM_SEEDS
