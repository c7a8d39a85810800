"""Alembic migrations of the hub database; ``aar.hub.db.upgrade`` applies them at start-up."""
