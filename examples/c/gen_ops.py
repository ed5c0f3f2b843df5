"""Print ops.h, the C consumer's operator allow-list, from aeruntime's (runtime/aeruntime/format/ops.py).

    python examples/c/gen_ops.py > examples/c/ops.h

tests/e2e/c/test_aescore_trust.py asserts that ops.h is what this prints, so the two lists cannot drift.
"""

from __future__ import annotations

from aeruntime.format.ops import ALLOWED_OPS

HEADER = """/* The operators aeexport emits (domain ai.onnx): aeruntime's allow-list, runtime/aeruntime/format/ops.py
 * ALLOWED_OPS[""]. Generated: python examples/c/gen_ops.py > examples/c/ops.h (tests/e2e/c/test_aescore_trust.py
 * asserts that this file is what it prints). */
#ifndef AESCORE_OPS_H
#define AESCORE_OPS_H

static const char *const ALLOWED_OPS[] = {
"""
FOOTER = """};
#define ALLOWED_OPS_COUNT (sizeof ALLOWED_OPS / sizeof ALLOWED_OPS[0])

#endif
"""


def render() -> str:
    """The header's text: the default domain's operators, sorted (aeruntime allows no other domain)."""
    if set(ALLOWED_OPS) != {""}:
        raise SystemExit(f"aeruntime allows domains {sorted(ALLOWED_OPS)}; ops.h knows only the default one")
    return HEADER + "".join(f'    "{op}",\n' for op in sorted(ALLOWED_OPS[""])) + FOOTER


if __name__ == "__main__":
    print(render(), end="")
