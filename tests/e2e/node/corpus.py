"""The conformance corpus moved to :mod:`tests.conformance.corpus` (every consumer runs it); names kept here."""

from tests.conformance.corpus import BASE, BUNDLE_CASES, CSV_CASES, JS_ONLY_CSV, BundleCase, forged

__all__ = ["BASE", "BUNDLE_CASES", "CSV_CASES", "JS_ONLY_CSV", "BundleCase", "forged"]
