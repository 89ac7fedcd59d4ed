"""Subjects are written once, in shared/subjects.py, and follow the naming rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared import subjects
from shared.subjects import Kind

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("shared", "services", "lab", "cli", "tests", "bench")
NAMES = {subject.name for subject in subjects.ALL}
PREFIXES = ("cmd.", "query.", "dlq.")


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _is_subject(text: str) -> bool:
    tokens = text.split(".")
    shaped = text.startswith(PREFIXES) and " " not in text and len(tokens) >= 2 and all(tokens)
    return text in NAMES or shaped


def test_no_subject_string_literal_outside_shared_subjects() -> None:
    offenders = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path in (ROOT / "shared" / "subjects.py", Path(__file__)) or ".venv" in path.parts:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text in _literals(path) if _is_subject(text)
            ]
    assert offenders == []


def test_the_scan_would_catch_a_literal(tmp_path: Path) -> None:
    sample = tmp_path / "handler.py"
    sample.write_text('SUBJECT = "cmd.vm.clone"\n"""a docstring mentioning cmd.vm.clone is fine"""\n')
    assert [text for _, text in _literals(sample) if _is_subject(text)] == ["cmd.vm.clone"]


@pytest.mark.parametrize("subject", subjects.ALL, ids=[s.name for s in subjects.ALL])
def test_subject_names_follow_the_naming_rules(subject: subjects.Subject) -> None:
    tokens = subject.name.split(".")
    assert all(token and token.replace("_", "").isalnum() for token in tokens)
    if subject.kind is Kind.COMMAND:
        assert tokens[0] == "cmd" and len(tokens) == 3
    elif subject.kind is Kind.QUERY:
        assert tokens[0] == "query" and subject.reply is not None
    elif subject.kind is Kind.EVENT:
        assert f"{tokens[0]}.>" in subjects.EVENT_STREAM_SUBJECTS


def test_subject_names_are_unique() -> None:
    names = [subject.name for subject in subjects.ALL]
    assert len(names) == len(set(names))
