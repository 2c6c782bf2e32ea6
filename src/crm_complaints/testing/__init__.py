"""Test helpers shipped in the wheel: the adapter conformance kit, samples, and a pytest plugin
with a HubSpot emulator fixture."""

from __future__ import annotations

from .conformance import (
    AdapterConformance,
    Failure,
    Harness,
    check_auth_stops_the_run,
    check_calls_are_counted,
    check_classification,
    check_no_duplicates_on_repeated_push,
    check_no_personal_data,
    check_one_result_per_complaint,
    check_read_back,
    check_setup_is_idempotent,
    check_tasks_arrive_with_due_dates,
    check_unchanged_rerun_costs_nothing,
    check_updates_in_place,
    planned,
    with_status,
)
from .samples import sample_complaints

__all__ = [
    "AdapterConformance",
    "Failure",
    "Harness",
    "check_auth_stops_the_run",
    "check_calls_are_counted",
    "check_classification",
    "check_no_duplicates_on_repeated_push",
    "check_no_personal_data",
    "check_one_result_per_complaint",
    "check_read_back",
    "check_setup_is_idempotent",
    "check_tasks_arrive_with_due_dates",
    "check_unchanged_rerun_costs_nothing",
    "check_updates_in_place",
    "planned",
    "sample_complaints",
    "with_status",
]
