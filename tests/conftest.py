"""Suite-wide test settings.

Hypothesis: no per-example deadline and no "too slow" health check. Both are wall-clock checks, and
the suite runs on shared 2-core machines where a loaded moment makes a fast example look slow (the
project rule: no wall-clock thresholds in tests). Examples and shrinking are unchanged.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("imcsim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("imcsim")
