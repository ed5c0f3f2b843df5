"""The family's shipped bundles load without knowing their kind and pass their golden vectors."""

from __future__ import annotations

import numpy as np
import pytest

import aeruntime
from aeexport.export import verify_bundle
from tests.conftest import MODELS

SHIPPED = {"digits-conv": ("conv", (1, 8, 8)), "digits-vae": ("vae", (64,))}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_bundle_verifies_and_scores_digits(name, digits):
    kind, shape = SHIPPED[name]
    report = verify_bundle(MODELS / name, X=digits[0][:300].reshape(-1, *shape), batches=(1, 7))
    assert report["ok"], report
    assert any(r["check"].startswith("golden:") for r in report["rows"])
    model = aeruntime.load(MODELS / name, providers="cpu")
    assert model.kind == kind and model.input_shape == shape
    assert model.is_variational == (kind == "vae")
    X, y = digits
    scores = model.score(X.reshape(-1, *shape))
    # Class 0 was held out of training: it scores higher than the digits the model knows.
    assert np.median(scores[y == 0]) > np.median(scores[y != 0])
