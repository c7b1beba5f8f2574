"""Fidelity: what each output of a model means, and whether a candidate keeps it.

One module judges for every stage (optimize in every mode, tune, check, diff, verify), so the
same two files always get the same verdict:

- ``meaning``: what an output is (class scores per position, independent probabilities, labels,
  boxes, values), inferred and reported with its reason, or stated per output;
- ``decisions`` and ``boxes``: the decisions it carries, the reference's unsure ones set apart;
- ``confidence``: lower bounds, and how much more data a bar needs;
- ``closeness``: how close in value (errors, cosine, SNR), a block of samples at a time;
- ``compare``: closeness and decisions together, against a ``Tolerance``.
"""

from mlpack.core.fidelity.closeness import mean_cosine
from mlpack.core.fidelity.compare import Comparison, OutputDiff, compare_outputs, top1_agreement
from mlpack.core.fidelity.confidence import trials_needed, wilson_lower, wilson_upper
from mlpack.core.fidelity.decisions import Decisions, judge_decisions
from mlpack.core.fidelity.meaning import Meaning, interpret
from mlpack.core.fidelity.tolerance import OutputKind, OutputRule, Tolerance, parse_rules, rules_from_mapping

__all__ = [
    "Comparison",
    "Decisions",
    "Meaning",
    "OutputDiff",
    "OutputKind",
    "OutputRule",
    "Tolerance",
    "compare_outputs",
    "interpret",
    "judge_decisions",
    "mean_cosine",
    "parse_rules",
    "rules_from_mapping",
    "top1_agreement",
    "trials_needed",
    "wilson_lower",
    "wilson_upper",
]
