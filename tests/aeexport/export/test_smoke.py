import numpy as np

import aeruntime


def test_dense_bundle_scores_match_torch(dense_bundle, dense_trained, digits_split):
    import torch

    model = aeruntime.load(dense_bundle, providers="cpu")
    x = digits_split.test[:50]
    with torch.inference_mode():
        ref = dense_trained.model.scorer_graph(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.score(x), ref, rtol=1e-4, atol=1e-5)
