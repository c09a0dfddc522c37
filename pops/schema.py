"""Every table in a POPS database: POPS's own and the sandbox gateway's."""
from .gateways.sandbox_tables import TABLES as SANDBOX_TABLES
from .models import MODELS

TABLES = [*MODELS, *SANDBOX_TABLES]
