"""``emulator hubspot``: a local HubSpot for tests and demos."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import _configure_logging, emulator_app, err


@emulator_app.command("hubspot")
def emulator_hubspot(
    port: Annotated[int, typer.Option("--port", "-p", help="0 picks a free port.")] = 0,
    rate_limit: Annotated[int, typer.Option(help="Requests per window.")] = 100,
    window_seconds: Annotated[float, typer.Option(help="Rate-limit window.")] = 10.0,
    neighbour_share: Annotated[
        float, typer.Option(help="Share of the window another app spends (0-1).")
    ] = 0.0,
    no_validate: Annotated[
        bool, typer.Option("--no-validate", help="Skip OpenAPI validation (faster).")
    ] = False,
) -> None:
    """Run a local HubSpot emulator on loopback until interrupted (demo portal, demo token)."""
    import time

    from ..emulator import DEMO_TOKEN, RateLimit, running_emulator

    _configure_logging(False)  # each contract violation is a WARNING line as it happens

    limit = RateLimit(
        requests=rate_limit, window_seconds=window_seconds, neighbour_share=neighbour_share
    )
    with running_emulator(port=port, rate_limit=limit, validate=not no_validate) as emulator:
        print(f"HubSpot emulator at {emulator.base_url}", flush=True)
        print(f"export HUBSPOT_ACCESS_TOKEN={DEMO_TOKEN}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        if emulator.violations:
            err.print(f"[red]{len(emulator.violations)} contract violation(s)[/red]")
            for violation in emulator.violations[:20]:  # route and rule, never a value
                err.print(f"  {violation}", markup=False)
