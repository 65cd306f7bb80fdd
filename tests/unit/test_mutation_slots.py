"""The order scripts/mutation.py runs a mutant's tests in (tests/mutation_slots.py): a killed mutant stops at
its first failing test, so the order is most of what `make mutation` costs."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from tests import mutation_slots as ms

_spec = importlib.util.spec_from_file_location("mutation", Path(__file__).parents[2] / "scripts" / "mutation.py")
mutation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation)

FN = "gamify.engine.points.x_award"


def items(*names):
    return [SimpleNamespace(nodeid=n) for n in names]


def order(monkeypatch, tmp_path, kills: list[tuple[str, str]], durations: dict, mutant=f"{FN}__mutmut_9"):
    path = tmp_path / "kills.txt"
    path.write_text("".join(f"{m}\t{t}\n" for m, t in kills))
    monkeypatch.setattr(ms, "KILLS", str(path))
    monkeypatch.setenv("MUTANT_UNDER_TEST", mutant)
    found = items(*durations)
    ms.order_tests(found, durations)
    return [i.nodeid for i in found]


def test_without_kills_the_fastest_test_goes_first(monkeypatch, tmp_path):
    assert order(monkeypatch, tmp_path, [], {"slow": 2.0, "fast": 0.01, "mid": 0.5}) == ["fast", "mid", "slow"]


def test_the_test_that_caught_the_functions_other_mutants_goes_first(monkeypatch, tmp_path):
    # Chance over cost: "fast", never seen to fail, scores 0.1 / (0.01 + 0.02) = 3.33; "slow" with one kill
    # (1 + 0.1) / (1.0 + 0.02) = 1.08, so the hundredfold cheaper test still goes first...
    durations = {"slow": 1.0, "fast": 0.01}
    assert order(monkeypatch, tmp_path, [(f"{FN}__mutmut_1", "slow")], durations) == ["fast", "slow"]
    # ...until the kills outweigh the cost: five kills score (5 + 0.1) / 1.02 = 5.0 > 3.33.
    caught = [(f"{FN}__mutmut_{i}", "slow") for i in range(5)]
    assert order(monkeypatch, tmp_path, caught, durations) == ["slow", "fast"]


def test_kills_of_other_functions_do_not_count(monkeypatch, tmp_path):
    # x_awarded is another function whose name starts like x_award's.
    other = [(f"{FN}ed__mutmut_{i}", "slow") for i in range(50)]
    assert order(monkeypatch, tmp_path, other, {"slow": 1.0, "fast": 0.01}) == ["fast", "slow"]


def test_mutmuts_own_runs_keep_their_order(monkeypatch, tmp_path):
    # The stats and clean runs (no mutant) measure every test: nothing to reorder.
    assert order(monkeypatch, tmp_path, [], {"slow": 2.0, "fast": 0.01}, mutant="") == ["slow", "fast"]


def test_a_failure_is_recorded_for_the_mutant_under_test(monkeypatch, tmp_path):
    path = tmp_path / "kills.txt"
    monkeypatch.setattr(ms, "KILLS", str(path))
    monkeypatch.setattr(ms, "ACTIVE", True)
    monkeypatch.setenv("MUTANT_UNDER_TEST", f"{FN}__mutmut_3")
    ms.record_kill(SimpleNamespace(failed=False, nodeid="t::passes"))
    ms.record_kill(SimpleNamespace(failed=True, nodeid="t::fails"))
    assert path.read_text() == f"{FN}__mutmut_3\tt::fails\n"


def test_only_the_mutants_listed_as_equivalent_are_skipped(monkeypatch, tmp_path):
    # scripts/mutation.py passes the names tests/mutation_equivalent.txt lists, without comments or reasons.
    listed = tmp_path / "equivalent.txt"
    listed.write_text(f"# {FN}__mutmut_1 is not listed: this is a comment\n{FN}__mutmut_12 why\n{FN}__mutmut_3 why\n")
    monkeypatch.setattr(mutation, "EQUIVALENT", listed)
    monkeypatch.setenv("GAMIFY_MUTATION_SKIP_EQUIVALENT", "\n".join(mutation.equivalent()))
    skipped = ms.skipped_as_equivalent()
    assert f"{FN}__mutmut_3" in skipped
    assert f"{FN}__mutmut_1" not in skipped  # in a comment, and a prefix of _12
    assert f"{FN}__mutmut_2" not in skipped
    assert "" not in skipped
