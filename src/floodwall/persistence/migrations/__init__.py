"""Alembic's environment and the revisions of Floodwall's schema (shipped in the package)."""
