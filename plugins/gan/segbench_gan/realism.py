"""Realism measures: moved to the core, :mod:`segbench.realism` (re-exported here
so ``segbench gan realism`` and existing imports keep working)."""

from segbench.realism import (  # noqa: F401
    FEATURES,
    FeatureRow,
    Features,
    RealismReport,
    compare,
    features_of,
    load_labelled,
    realism_report,
)

__all__ = ["FEATURES", "FeatureRow", "Features", "RealismReport", "compare", "features_of",
           "load_labelled", "realism_report"]
