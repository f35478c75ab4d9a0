"""The escrow state machine is pure (check_transition), and escrow's modules import each other without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from escrow.states import PENDING, EscrowAction, EscrowChange, EscrowState, IllegalEscrowTransition, check_transition

S, A = EscrowState, EscrowAction
ESCROW = Path(__file__).resolve().parents[3] / "escrow"


def test_starting_a_pending_posting_remembers_where_to_return() -> None:
    assert check_transition(S.FROZEN, A.RESOLVE_REFUND, None) == EscrowChange(
        A.RESOLVE_REFUND, S.FROZEN, S.REFUND_PENDING, S.FROZEN)
    assert check_transition(S.FUNDED, A.REQUEST_RELEASE, None).resume_status is S.FUNDED


def test_a_voided_posting_returns_there_and_forgets_it() -> None:
    change = check_transition(S.REFUND_PENDING, A.REFUND_VOIDED, S.FROZEN)
    assert (change.to_state, change.resume_status) == (S.FROZEN, None)
    assert check_transition(S.RELEASE_PENDING, A.RELEASE_VOIDED, None).to_state is S.FUNDED


def test_a_note_while_pending_keeps_the_return_state() -> None:
    change = check_transition(S.RELEASE_PENDING, A.NOTE, S.FROZEN)
    assert (change.to_state, change.resume_status) == (S.RELEASE_PENDING, S.FROZEN)


def test_an_illegal_move_is_refused() -> None:
    with pytest.raises(IllegalEscrowTransition):
        check_transition(S.RELEASED, A.REQUEST_RELEASE, None)


@pytest.mark.parametrize("state", list(EscrowState))
def test_every_resulting_pending_state_has_somewhere_to_return(state: EscrowState) -> None:
    for action in EscrowAction:
        try:
            change = check_transition(state, action, S.FUNDED if state in PENDING else None)
        except IllegalEscrowTransition:
            continue
        assert (change.resume_status is not None) == (change.to_state in PENDING)


def _imports(path: Path) -> set[str]:
    """Every escrow module this file imports, at any depth (function-local imports count), except type-only ones."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(node) for top in tree.body if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
                 for node in ast.walk(top)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "escrow"}


def _graph() -> dict[str, set[str]]:
    modules = {
        ".".join(("escrow", *p.relative_to(ESCROW).with_suffix("").parts)).removesuffix(".__init__"): p
        for p in ESCROW.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target in _imports(path) if target in modules and target != name}
    return graph


def test_escrow_has_no_import_cycles_even_counting_function_local_imports() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_state_machine_does_no_io() -> None:
    assert _graph()["escrow.states"] == set()
    source = (ESCROW / "states.py").read_text(encoding="utf-8")
    assert "sqlalchemy" not in source and "AsyncSession" not in source
