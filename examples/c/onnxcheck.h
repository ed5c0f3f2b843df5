/* The structure and operator checks aeruntime runs on a graph (runtime/aeruntime/format/ops.py), in C. */
#ifndef AESCORE_ONNXCHECK_H
#define AESCORE_ONNXCHECK_H

#include <stddef.h>
#include <stdint.h>

/* Checks LEN bytes of a serialized ONNX ModelProto before onnxruntime sees them: one graph; every node's
 * (domain, op_type) in ops.h (aeruntime's ALLOWED_OPS); no subgraph attributes (Loop/If/Scan bodies), no
 * model-local functions, training_info or sparse initializers, no opset import of another domain; no tensor
 * stored outside the file (external data); declared shapes of at most 16 dimensions of 0..2**31-1 and
 * 2**31-1 elements; no tensor declaring more elements than its bytes hold. Returns 0, or -1 with a
 * one-line reason in ERR (ERRLEN bytes) that names the node or tensor. */
int onnxcheck(const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
