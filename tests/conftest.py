"""Settings shared by every test suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI replays the same examples every run (a red build then always means a code change); local
# runs explore new examples each time.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
