"""``crm-complaints check --adapter hubspot``: a HubSpot portal asked, before the first sync,
whether a sync can work there.

We cannot reach our users' portals, so this is the check they run on theirs (a sandbox or
production). Five steps, each reported as passed, failed (with the fix) or skipped (with why):

1. **token**: the environment variable ``adapters.hubspot.token_env`` names holds a token, and
   the token has every scope of :func:`required_scopes`. A private app token's scopes come from
   ``POST /oauth/v2/private-apps/get/access-token-info`` (body ``{"tokenKey": …}``, answer
   ``{"hubId", "appId", "userId", "scopes": [...]}``; documented at the end of
   https://developers.hubspot.com/docs/api/private-apps, see also
   https://github.com/HubSpot/hubspot-api-php/issues/171). Where that endpoint does not answer
   (another kind of token, a proxy), one read per scope is sent instead and a 403
   ``MISSING_SCOPES`` answer (``errors[].context.requiredGranularScopes``) names what is
   missing; write scopes cannot be probed without writing, so the round trip shows them.
2. **portal**: the pipeline, every stage, every owner e-mail (adapter-wide, per clinic, deputies
   and staff) and every option the config names exists; each problem named by its config key,
   never by the e-mail.
3. **properties**: our properties exist with the type we write (else run ``setup``); the
   ticket's ``crm_complaint_id`` must be unique-valued (the ticket upsert matches on it), the
   task key need not be (HubSpot has no unique task properties).
4. **round trip**: one synthetic complaint (``CHECK-<random hex>``, no personal data, never in
   the state store) pushed through the adapter, read back, and compared: version, owners, each
   task's due date, and each task's link to the ticket.
5. **clean up**: the synthetic ticket and its tasks archived, found again by the unique
   complaint id and the ticket's task links (not from the push's answer alone, so a push that
   failed half-way is cleaned up too); ids to delete by hand when archiving fails.

The steps live in :mod:`.scopes` (1), :mod:`.portal` (2 and 3) and :mod:`.round_trip` (4 and 5),
each a mixin of :class:`_Preflight` over :class:`.context._Context`; this module runs them in
order and turns a failed HubSpot call into a failed step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from ....config import Settings
from ....errors import AdapterError, AuthError, ConfigError, TransientError
from ....preflight import PreflightReport, Step, StepOutcome
from .. import HubSpotAdapter
from .context import STEP_CLEAN_UP, STEP_PORTAL, STEP_PROPERTIES, STEP_ROUND_TRIP, STEP_TOKEN
from .portal import _PortalSteps
from .round_trip import _Leftovers, _RoundTripSteps
from .scopes import TOKEN_INFO_PATH, ScopeNeed, _missing_in, _TokenStep, required_scopes

__all__ = ["TOKEN_INFO_PATH", "ScopeNeed", "check", "required_scopes"]


# -- the check ----------------------------------------------------------------------------------
def check(settings: Settings, environ: Mapping[str, str]) -> PreflightReport:
    """Run the five steps against the configured portal (see the module docstring)."""
    report = PreflightReport("hubspot")
    try:
        adapter = HubSpotAdapter.from_settings(settings, environ=environ)
    except ConfigError as exc:
        report.add(_config_problem(exc))
        _skip_rest(report, STEP_TOKEN, "the adapter could not be configured")
        return report
    with adapter:
        _Preflight(adapter, settings, report).run()
    return report


def _config_problem(exc: ConfigError) -> Step:
    if exc.key == "adapters.hubspot.token_env":
        return Step.failed(
            STEP_TOKEN,
            str(exc),
            "set that variable to the private app's access token (Development → Legacy apps → "
            "your app → Auth → Show token), or name another with adapters.hubspot.token_env",
        )
    return Step.failed(STEP_TOKEN, f"config error {exc}", f"fix {exc.key or 'the config'}")


_ORDER = (STEP_TOKEN, STEP_PORTAL, STEP_PROPERTIES, STEP_ROUND_TRIP, STEP_CLEAN_UP)


def _skip_rest(report: PreflightReport, after: str, because: str) -> None:
    for name in _ORDER[_ORDER.index(after) + 1 :]:
        report.add(Step.skipped(name, because))


class _Preflight(_TokenStep, _PortalSteps, _RoundTripSteps):
    """One run of the steps over one adapter; each step returns its Step."""

    def run(self) -> None:
        token = self.report.add(self._guarded(STEP_TOKEN, self._token_and_scopes))
        if token.outcome is not StepOutcome.PASSED:
            _skip_rest(self.report, STEP_TOKEN, "the token is missing, refused or lacks scopes")
            return
        portal = self.report.add(self._guarded(STEP_PORTAL, self._portal))
        properties = self.report.add(self._guarded(STEP_PROPERTIES, self._properties))
        if not all(s.outcome is StepOutcome.PASSED for s in (portal, properties)):
            failed = [s.name for s in (portal, properties) if s.outcome is StepOutcome.FAILED]
            _skip_rest(self.report, STEP_PROPERTIES, f"{' and '.join(failed)} failed first")
            return
        leftovers: _Leftovers = _Leftovers()
        self.report.add(self._guarded(STEP_ROUND_TRIP, partial(self._round_trip, leftovers)))
        self.report.add(self._clean_up(leftovers))

    def _guarded(self, name: str, step: Callable[[], Step]) -> Step:
        """A step whose HubSpot call failed outright becomes a failed step saying which call
        and what kind of failure (classified by the client; no bodies, no values)."""
        try:
            return step()
        except AuthError as exc:
            named = _missing_in(exc)
            if exc.status == 403 and named:
                return Step.failed(name, str(exc), self._scope_fix(named))
            return Step.failed(name, str(exc), f"check the token in {self.config.token_env}")
        except TransientError as exc:  # 429, 5xx, a dropped connection
            return Step.failed(name, str(exc), "HubSpot was busy or unreachable: check again")
        except AdapterError as exc:
            fix = "HubSpot refused the request the message names: fix what it says, check again"
            return Step.failed(name, str(exc), fix)
        except ConfigError as exc:
            return Step.failed(name, str(exc), f"fix {exc.key or 'the config'}")
