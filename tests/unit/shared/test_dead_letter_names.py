"""A dead letter's names lead back to where it came from: its original subject, the service whose
consumer failed it, and a bounded metric label."""

from __future__ import annotations

from typing import Any

import pytest

from shared import subjects
from shared.bus import Topology, subject_label


@pytest.mark.parametrize("subject", subjects.ALL, ids=[s.name for s in subjects.ALL])
def test_the_original_subject_comes_back_from_its_dead_letter_subject(subject: subjects.Subject[Any]) -> None:
    assert subjects.dead_lettered(subjects.dead_letter(subject).name) == subject.name


def test_a_name_that_is_not_a_dead_letter_subject_is_left_as_it_is() -> None:
    assert subjects.dead_lettered(subjects.CMD_VM_CLONE.name) == subjects.CMD_VM_CLONE.name


@pytest.mark.parametrize("service", subjects.SERVICES)
def test_the_service_comes_back_from_its_durable_consumer_name(service: str) -> None:
    topology = Topology("t123")
    assert topology.service_of(topology.durable(service, subjects.CMD_POOL_ADD)) == service


@pytest.mark.parametrize("durable", ["", "nodash", "stranger-cmd_pool_add"])
def test_a_consumer_of_no_known_service_has_none(durable: str) -> None:
    assert Topology.service_of(durable) == ""


def test_metric_labels_are_the_contracts_subjects_or_other() -> None:
    assert subject_label(subjects.CMD_VM_CLONE.name) == subjects.CMD_VM_CLONE.name
    assert subject_label(subjects.CMD_VM_CLONE.name + "_made_up") == "other"
