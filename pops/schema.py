"""Every table in a POPS database: POPS's own, the sandbox gateway's and what POPS keeps about Stripe."""
from .gateways.sandbox_tables import TABLES as SANDBOX_TABLES
from .gateways.stripe_tables import TABLES as STRIPE_TABLES
from .models import MODELS

TABLES = [*MODELS, *SANDBOX_TABLES, *STRIPE_TABLES]
