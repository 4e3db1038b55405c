"""Hypothesis settings: deterministic "ci" profile by default; HYPOTHESIS_PROFILE=dev for more."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
