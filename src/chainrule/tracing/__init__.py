"""Worked solutions: every number of a small network's gradient-descent step, with its formula.

    tr = chainrule.trace("examples/trace/lab-2-2-1.toml")     # a spec file (TOML or JSON) or a dict
    print(tr.render("markdown"))                               # or "text", "latex", "json"
    tr.values()["delta[2][1]"]                                 # every quantity by name
    print(tr.check({"a[1][1]": 0.56, "tolerance": 1e-3}))      # a learner's answers, marked

The spec's form is in ``spec``, the names in ``derivation``, the answers' form in ``check``.
The numbers are the engine's (``Network.backward``, ``SGD.step``): see ``record``.
"""

from .check import CheckReport
from .record import LayerStep, Step, Trace, trace
from .spec import Spec, read_spec

__all__ = ["trace", "Trace", "Step", "LayerStep", "CheckReport", "Spec", "read_spec"]
