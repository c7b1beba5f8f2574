"""JUnit XML: one test case per budget, so any CI shows broken budgets in its test view."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from mlpack.report.formatting import margin_text, value_text, xml_text

if TYPE_CHECKING:
    from mlpack.budget.check import CheckResult
    from mlpack.budget.drift import DriftResult


def check_junit(result: CheckResult) -> str:
    failures = sum(1 for v in result.verdicts if v.blocking and v.status.value == "fail")
    errors = sum(1 for v in result.verdicts if v.blocking and v.status.value == "inconclusive")
    skipped = sum(1 for v in result.verdicts if v.warn_only and v.status.value != "pass")
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="mlpack check",
        tests=str(len(result.verdicts)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        timestamp=result.created,
    )
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"mlpack.budgets.{_safe(result.model)}", name=v.budget)
        measured, limit = value_text(v.measured, v.unit, v.shown_unit), value_text(v.limit, v.unit, v.shown_unit)
        message = f"measured {measured}, limit {limit}, margin {margin_text(v)}"
        if v.status.value != "pass" and v.warn_only:
            ET.SubElement(case, "skipped", message=f"warning only ({v.status.value}): {message}")
        elif v.status.value == "fail":
            ET.SubElement(case, "failure", message=message, type="BudgetExceeded").text = v.detail or message
        elif v.status.value == "inconclusive":
            ET.SubElement(case, "error", message=f"inconclusive: {message}", type="Inconclusive").text = v.detail
        if v.detail:
            ET.SubElement(case, "system-out").text = v.detail
    return _written(suites)


def _written(suites: ET.Element) -> str:
    """The XML text, every attribute and text made well-formed XML first (names come from models)."""
    for element in suites.iter():
        element.attrib = {key: xml_text(value) for key, value in element.attrib.items()}
        if element.text:
            element.text = xml_text(element.text)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name.rsplit("/", 1)[-1])


def drift_junit(result: DriftResult) -> str:
    """One test case per feature; a drifted feature is a failure naming its test and effect sizes."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="mlpack drift",
        tests=str(len(result.features)),
        failures=str(len(result.drifted)),
        errors="0",
        skipped="0",
        timestamp=result.created,
    )
    for f in result.features:
        case = ET.SubElement(suite, "testcase", classname=f"mlpack.drift.{_safe(result.reference)}", name=f.feature)
        said = "".join(f"; {note}" for note in f.notes)
        message = (
            f"p adjusted {f.p_adjusted:.3g} (alpha {f.alpha:g}), PSI {f.psi:.4f}, JS {f.js:.4f} ({f.test_note}){said}"
        )
        if f.drifted:
            ET.SubElement(case, "failure", message=message, type="DataDrift").text = message
        ET.SubElement(case, "system-out").text = message
    return _written(suites)
