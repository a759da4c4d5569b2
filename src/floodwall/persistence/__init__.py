"""Floodwall's persistence: every table on one MetaData (``tables``), the Alembic migrations that build
it (``migrations/``), and the functions that bring a database to the newest schema (``schema``)."""
