"""Every table in a POPS database: POPS's own, the sandbox gateway's, what POPS keeps about Stripe, payment plans and texts."""
from .gateways.sandbox_tables import TABLES as SANDBOX_TABLES
from .gateways.stripe_tables import TABLES as STRIPE_TABLES
from .models import MODELS, LedgerVersion
from .plans.tables import TABLES as PLAN_TABLES
from .texts.tables import TABLES as TEXT_TABLES

# LedgerVersion: kept by the database's triggers beside the ledger (migration 0014), not a record of POPS's own.
TABLES = [*MODELS, LedgerVersion, *SANDBOX_TABLES, *STRIPE_TABLES, *PLAN_TABLES, *TEXT_TABLES]
