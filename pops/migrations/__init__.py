"""Versioned schema migrations, applied in numeric order by `pops migrate` (playhouse.migrations)."""
