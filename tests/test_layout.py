"""The layout reads the way CONTRIBUTING.md says: reference code at the top of ``lib``, each chapter's
experiments and figures under its number (the same number as its notebook, checks and claim tests),
and chapter experiments importable without matplotlib, as the claim tests import them."""

import re
import subprocess
import sys

import pytest

from conftest import ROOT

CHAPTER_NOTEBOOKS = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REFERENCE = {"optimizers", "layers", "networks", "initializers", "training", "data", "gradcheck", "functions",
             "second_order", "quadratic", "plots"}


@pytest.mark.parametrize("stem", CHAPTER_NOTEBOOKS)
def test_a_chapter_has_one_number_everywhere(stem):
    number, topic = stem.split("_", 1)
    assert (ROOT / "lib" / "chapters" / f"ch{stem}" / "experiments.py").exists()
    assert (ROOT / "lib" / "chapters" / f"ch{stem}" / "figures.py").exists()
    assert (ROOT / "lib" / "checks" / f"ch{stem}.py").exists()
    assert (ROOT / "tests" / f"test_claims_ch{number}.py").exists()
    assert (ROOT / "solutions" / f"{stem}.ipynb").exists() and (ROOT / "exercises" / f"{stem}.ipynb").exists()
    notebook = (ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8")
    assert f"from lib.chapters.ch{stem} import experiments, figures" in notebook


def test_the_top_of_lib_is_reference_code_only():
    modules = {path.stem for path in (ROOT / "lib").glob("*.py")} - {"__init__"}
    assert modules <= REFERENCE, f"not reference code at the top of lib: {sorted(modules - REFERENCE)}"


def test_experiments_import_without_matplotlib():
    imports = "; ".join(f"import lib.chapters.ch{stem}.experiments" for stem in CHAPTER_NOTEBOOKS)
    code = f"import sys; {imports}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_claim_seeds_are_defined_in_one_place():
    defining = [path.name for path in (ROOT / "tests").glob("test_*.py")
                if re.search(r"^(SEEDS|CLAIM_SEEDS|ROOT)\s*=", path.read_text(encoding="utf-8"), flags=re.M)]
    assert not defining, f"define seeds and ROOT only in tests/conftest.py: {defining}"
