"""athena-fairshare: fair, quota-aware admission of Amazon Athena queries across tenants."""

__version__ = "0.1.0"
