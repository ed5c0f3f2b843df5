/* The operators aeexport emits (domain ai.onnx): aeruntime's allow-list, runtime/aeruntime/format/ops.py
 * ALLOWED_OPS[""]. Generated: python examples/c/gen_ops.py > examples/c/ops.h (tests/e2e/c/test_aescore_trust.py
 * asserts that this file is what it prints). */
#ifndef AESCORE_OPS_H
#define AESCORE_OPS_H

static const char *const ALLOWED_OPS[] = {
    "Abs",
    "Add",
    "Cast",
    "Conv",
    "ConvTranspose",
    "DequantizeLinear",
    "Div",
    "DynamicQuantizeLinear",
    "Elu",
    "Exp",
    "Gather",
    "Gelu",
    "Gemm",
    "Greater",
    "LeakyRelu",
    "Less",
    "MatMul",
    "MatMulInteger",
    "Mul",
    "Pow",
    "QuantizeLinear",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Slice",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
};
#define ALLOWED_OPS_COUNT (sizeof ALLOWED_OPS / sizeof ALLOWED_OPS[0])

#endif
