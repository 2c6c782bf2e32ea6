"""What every preflight step works with: the adapter, its client and config, the settings, and
the step names (in the order they run)."""

from __future__ import annotations

from hubspot.crm.objects.tasks import BasicApi as TaskBasicApi
from hubspot.crm.tickets import BasicApi as TicketBasicApi

from ....config import Settings
from ....preflight import PreflightReport
from .. import HubSpotAdapter
from ..client import HubSpotClient

SCOPES_FIX = (
    "in HubSpot, open the private app (Development → Legacy apps → your app → Scopes), add "
    "{scopes}, save, and put the new token in {env}"
)

STEP_TOKEN = "token and scopes"
STEP_PORTAL = "pipeline, stages, owners and options"
STEP_PROPERTIES = "properties"
STEP_ROUND_TRIP = "round trip"
STEP_CLEAN_UP = "clean up"


class _Context:
    """One run of the steps over one adapter: what each step module's mixin reads."""

    def __init__(
        self,
        adapter: HubSpotAdapter,
        settings: Settings,
        report: PreflightReport,
    ) -> None:
        self.adapter = adapter
        self.client: HubSpotClient = adapter.client
        self.config = adapter.config
        self.settings = settings
        self.report = report
        api = self.client.tickets.api_client  # shares the token, host and retry settings
        self.ticket_basic = TicketBasicApi(api_client=api)
        self.task_basic = TaskBasicApi(api_client=self.client.tasks.api_client)

    def _scope_fix(self, scopes: list[str]) -> str:
        return SCOPES_FIX.format(scopes=", ".join(scopes), env=self.config.token_env)
