/**
 * What a graph may contain: the operators aeexport emits. A mirror of aeruntime's
 * `aeruntime.format.ops` (ALLOWED_OPS, ALLOWED_DOMAINS, MAX_DIM, MAX_TENSOR_RANK) and of
 * `aeruntime.format.constants.MAX_ROW_ELEMENTS`; tests/e2e/node/test_node_hostile.py asserts
 * that every value here equals Python's, so the two lists cannot drift apart.
 */

/** domain -> op types aeexport emits ("" is the default ai.onnx domain). */
export const ALLOWED_OPS = {
  '': [
    'Abs', 'Add', 'Cast', 'Conv', 'ConvTranspose', 'DequantizeLinear', 'Div', 'DynamicQuantizeLinear', 'Elu',
    'Exp', 'Gather', 'Gelu', 'Gemm', 'Greater', 'LeakyRelu', 'Less', 'MatMul', 'MatMulInteger', 'Mul', 'Pow',
    'QuantizeLinear', 'ReduceMean', 'ReduceSum', 'Relu', 'Reshape', 'Sigmoid', 'Slice', 'Sub', 'Tanh', 'Transpose',
    'Unsqueeze',
  ],
};
/** the opset domains a graph may import ("ai.onnx" is the default domain's long name) */
export const ALLOWED_DOMAINS = ['', 'ai.onnx'];
/** largest declared dimension: onnxruntime indexes with int32 on several paths */
export const MAX_DIM = 2 ** 31 - 1;
/** most dimensions of one tensor */
export const MAX_TENSOR_RANK = 16;
/** most elements in one row */
export const MAX_ROW_ELEMENTS = 2 ** 31 - 1;
