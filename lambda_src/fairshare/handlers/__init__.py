"""Lambda entry points: thin tables of contents over the services."""
