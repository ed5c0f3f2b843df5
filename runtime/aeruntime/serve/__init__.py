"""Serving bundles behind the Open Inference Protocol (KServe v2) on MLServer: ``aeruntime serve``.

==============  ==============================================================
module          owns
==============  ==============================================================
``bundle``      a loaded bundle as v2 tensors: decode a request, the decisions
                (``score``, ``label``, ``p_value`` when the scorer has it), the
                metadata parameters (no mlserver import)
``runtime``     :class:`AeBundleRuntime`, the MLServer runtime class
``server``      MLServer's settings, the body limit, v2 error responses
``cli``         the ``aeruntime serve`` command (imports mlserver only when run)
``pyfunc``      the MLflow ``python_function`` loader of ``aeexport package --format mlflow``
==============  ==============================================================

``import aeruntime.serve`` works without MLServer; ``runtime`` and ``server`` need the
extra: ``pip install 'aeruntime[serve]'``.
"""

from __future__ import annotations

__all__ = ["SERVE_EXTRA"]

#: the pip command that brings the serving engine
SERVE_EXTRA = "pip install 'aeruntime[serve]'"
