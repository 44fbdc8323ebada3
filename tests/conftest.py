"""Suite-wide test settings.

Property-based tests (hypothesis) run derandomized by default, so a CI run is reproducible: the same
examples every time. Set HYPOTHESIS_PROFILE=explore to search with fresh random examples instead.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
