"""The method library: weak-to-strong methods, one module each, registered by name.

    method = build_method("confident", {"keep_fraction": 0.3})
    test_probs = method.run(ctx)

Importing this package registers every shipped method.
"""

from aar.w2s.methods import (
    aux_conf,
    bootstrap,
    confident,
    early_stop,
    ensemble,
    probe,
    soft,
    vanilla,
)
from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext, build_method

__all__ = [
    "METHODS",
    "Method",
    "MethodConfig",
    "MethodContext",
    "aux_conf",
    "bootstrap",
    "build_method",
    "confident",
    "early_stop",
    "ensemble",
    "probe",
    "soft",
    "vanilla",
]
