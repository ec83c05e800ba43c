"""An Amazon Athena emulator for athena-fairshare: quota pools, states, events, metrics, DuckDB results."""

from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.errors import AthenaApiError
from fairshare_athena_emulator.settings import EmulatorSettings

__all__ = ["AthenaApiError", "AthenaEngine", "EmulatorSettings"]
