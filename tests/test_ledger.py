"""The claims ledger (CLAIMS.md) stays current: every test it names exists, and every claim test of a
chapter is named in that chapter's section."""

import ast
import re

import pytest

from conftest import ROOT

LEDGER = ROOT / "CLAIMS.md"
TEST_REFERENCE = re.compile(r"(tests/test_claims_ch(\d\d)\.py)::(\w+)")


def ledger_sections() -> dict[str, str]:
    """Chapter number ('01' …) → the text of its section."""
    text = LEDGER.read_text(encoding="utf-8")
    parts = re.split(r"^## Chapter (\d+)\b", text, flags=re.M)
    return {f"{int(number):02d}": body for number, body in zip(parts[1::2], parts[2::2])}


def claim_tests(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


# Housekeeping tests in a claim file that state no claim of the chapter.
NOT_CLAIMS = re.compile(r"import_matplotlib|enough_claim_seeds")
CLAIM_FILES = sorted((ROOT / "tests").glob("test_claims_ch*.py"))


def test_every_test_the_ledger_names_exists():
    missing = []
    for match in TEST_REFERENCE.finditer(LEDGER.read_text(encoding="utf-8")):
        path = ROOT / match[1]
        if not path.exists() or match[3] not in claim_tests(path):
            missing.append(match[0])
    assert not missing, f"CLAIMS.md names tests that do not exist: {missing}"


@pytest.mark.parametrize("path", CLAIM_FILES, ids=lambda path: path.stem)
def test_every_claim_test_is_in_its_chapters_section(path):
    chapter = re.search(r"ch(\d\d)", path.stem)[1]
    section = ledger_sections().get(chapter, "")
    named = {match[3] for match in TEST_REFERENCE.finditer(section) if match[2] == chapter}
    unlisted = sorted(name for name in claim_tests(path) - named if not NOT_CLAIMS.search(name))
    assert not unlisted, f"claim tests of chapter {chapter} missing from CLAIMS.md: {unlisted}"
