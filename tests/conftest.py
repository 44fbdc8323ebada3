"""Suite-wide test settings.

Property-based tests (hypothesis) run derandomized by default, so a CI run is reproducible: the same
examples every time. Set HYPOTHESIS_PROFILE=explore to search with fresh random examples instead.
"""
import os
import tempfile

from hypothesis import settings

# power studies without out_dir default to a resumable cache folder (~/.cache/allianceStats/power); tests must not
# write into the user's home: point the cache at a folder of this test run (set before any test imports the package)
os.environ.setdefault("ALLIANCESTATS_CACHE_DIR", tempfile.mkdtemp(prefix="allianceStats-test-cache-"))

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
