"""The public API is what ``__all__`` says, no more and no less (httpx's habit)."""

from __future__ import annotations

import crm_complaints
import crm_complaints.adapters
import crm_complaints.testing


def test_package_all_is_pinned() -> None:
    assert set(crm_complaints.__all__) == {
        "AdapterError",
        "AuthError",
        "BusinessCalendar",
        "Complaint",
        "ConfigError",
        "CrmComplaintsError",
        "ExitCode",
        "Job",
        "LockHeldError",
        "PermanentError",
        "Plan",
        "PlannedComplaint",
        "PlannedTask",
        "Policy",
        "QuarantineEntry",
        "RateLimitedError",
        "RecordError",
        "RejectedError",
        "Settings",
        "StateError",
        "TaskKind",
        "TransientError",
        "WebhookVerificationError",
        "__version__",
        "load_settings",
        "read_complaints",
        "read_csv",
        "read_jsonl",
    }
    for name in crm_complaints.__all__:
        assert hasattr(crm_complaints, name), name


def test_adapter_interface_is_pinned() -> None:
    """What an integrator's adapter imports: changing it breaks third-party adapters."""
    assert set(crm_complaints.adapters.__all__) == {
        "Adapter",
        "CountedSession",
        "Outcome",
        "PlannedComplaint",
        "PushResult",
        "RemoteRecord",
        "RemoteRefs",
        "RemoteTask",
        "RemoteWrite",
        "SetupReport",
        "available_adapters",
        "create_adapter",
        "load_adapter_class",
    }


def test_version_comes_from_the_installed_package() -> None:
    from importlib.metadata import version

    assert crm_complaints.__version__ == version("crm-complaints")


def test_adapter_and_kit_exports_resolve() -> None:
    for module in (crm_complaints.adapters, crm_complaints.testing):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
