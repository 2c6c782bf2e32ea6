"""Adapters are found through the ``crm_complaints.adapters`` entry-point group, built-ins too."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..config import Settings
from ..errors import ConfigError
from .base import Adapter

__all__ = ["GROUP", "available_adapters", "create_adapter", "load_adapter_class"]

GROUP = "crm_complaints.adapters"


@lru_cache(maxsize=1)
def available_adapters() -> dict[str, EntryPoint]:
    """Installed adapters by name (loaded lazily, listed once per process)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_adapter_class(name: str) -> type[Adapter[Any]]:
    """Import one adapter class; a missing or broken plugin is a ConfigError naming the package."""
    found = available_adapters().get(name)
    if found is None:
        known = ", ".join(sorted(available_adapters())) or "none"
        raise ConfigError(f"no adapter named {name!r} is installed (installed: {known})")
    package = found.dist.name if found.dist else found.value
    try:
        loaded = found.load()
    except Exception as exc:
        raise ConfigError(
            f"adapter {name!r} from package {package!r} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
        raise ConfigError(f"adapter {name!r} from package {package!r} is not an Adapter subclass")
    return loaded


def create_adapter(
    name: str, settings: Settings, *, environ: Mapping[str, str] | None = None
) -> Adapter[Any]:
    """The adapter ``name`` configured from ``[adapters.<name>]``; secrets from ``environ``
    (default ``os.environ``)."""
    return load_adapter_class(name).from_settings(settings, environ=environ)
