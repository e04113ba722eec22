"""The version ranges the course promises are the ranges CI runs: ``constraints-lowest.txt`` pins every
requirement at exactly the lower bound ``requirements.txt`` declares (CI installs with it and runs the
whole suite), and every requirement has an upper bound (CI's main run takes the newest inside it)."""

import re

from conftest import ROOT

REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)>=([0-9][0-9.]*),<([0-9][0-9.]*)")


def _lines(name: str) -> list[str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_every_requirement_is_a_bounded_range():
    for line in _lines("requirements.txt"):
        if line.startswith("-e"):
            continue
        assert REQUIREMENT.match(line), f"{line!r}: declare a range 'name>=low,<high'"


def test_lowest_constraints_pin_exactly_the_declared_lower_bounds():
    declared = {match[1].lower(): match[2] for line in _lines("requirements.txt")
                if (match := REQUIREMENT.match(line))}
    pinned = dict(line.lower().split("==") for line in _lines("constraints-lowest.txt"))
    assert pinned == declared
