/* A walk of the ONNX protobuf (onnx.proto field numbers) that refuses what aeexport never writes.
 *
 * ModelProto: 7 graph, 8 opset_import (1 domain), 20 training_info, 25 functions.
 * GraphProto: 1 node, 5 initializer, 11 input, 12 output, 13 value_info, 15 sparse_initializer.
 * NodeProto: 3 name, 4 op_type, 5 attribute, 7 domain.
 * AttributeProto: 5 t, 6 g, 10 tensors, 11 graphs, 20 type (5 GRAPH, 10 GRAPHS), 22/23 sparse tensors.
 * ValueInfoProto: 1 name, 2 type; TypeProto: 1 tensor_type; Tensor: 2 shape; TensorShapeProto: 1 dim;
 * Dimension: 1 dim_value.
 * TensorProto: 1 dims, 4-7 and 9-11 data, 8 name, 13 external_data, 14 data_location (1 EXTERNAL).
 * Every length is bounds-checked by tensorpb.c's wire-format reader.
 */
#include "onnxcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "tensorpb.h"

#define MAX_DIM 2147483647ULL          /* aeruntime.format.ops.MAX_DIM */
#define MAX_ELEMENTS 2147483647ULL     /* aeruntime.format.constants.MAX_ROW_ELEMENTS */
#define MAX_TENSOR_RANK 16             /* aeruntime.format.ops.MAX_TENSOR_RANK */
#define FIX "Re-export the bundle with aeexport; aescore runs only graphs made of the operators aeexport emits."

typedef struct {
    char *err;
    size_t errlen;
} report;

static int refuse(report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < r->errlen)
        snprintf(r->err + n, r->errlen - (size_t)n, " " FIX);
    return -1;
}

static int malformed(report *r, const char *what) {
    return refuse(r, "malformed protobuf in %s (not an ONNX model aeexport wrote);", what);
}

/* A length-delimited field's bytes as a C string (truncated to LEN - 1 bytes) for names and messages. */
static void text(const pb_value *v, char *out, size_t len) {
    size_t n = (size_t)(v->sub.end - v->sub.p);
    n = n < len - 1 ? n : len - 1;
    memcpy(out, v->sub.p, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20)
            out[i] = '?';
}

static int is_default_domain(const char *domain) {
    return !*domain || strcmp(domain, "ai.onnx") == 0;
}

static int allowed(const char *op) {
    for (size_t i = 0; i < ALLOWED_OPS_COUNT; i++)
        if (strcmp(ALLOWED_OPS[i], op) == 0)
            return 1;
    return 0;
}

/* Multiplies *PRODUCT by V, saturating above MAX_ELEMENTS (every bound checked is at most that). */
static void times(unsigned long long *product, unsigned long long v) {
    *product = v && *product > (MAX_ELEMENTS + 1) / v ? MAX_ELEMENTS + 1 : *product * v;
}

/* Packed (wire 2) or single (wire 0) int64 dims of a TensorProto into *RANK and *PRODUCT; -1 when out of range. */
static int tensor_dims(const pb_value *v, size_t *rank, unsigned long long *product, int *bad) {
    pb_cursor c = v->wire == 2 ? v->sub : (pb_cursor){NULL, NULL};
    uint64_t d = v->varint;
    do {
        if (v->wire == 2 && pb_varint(&c, &d))
            return -1;
        (*rank)++;
        *bad |= d > MAX_DIM;
        times(product, d);
    } while (v->wire == 2 && c.p < c.end);
    return 0;
}

static int check_tensor(pb_cursor c, const char *where, report *r) {
    char name[128] = "";
    size_t rank = 0;
    unsigned long long count = 1, stored = 0;
    int bad = 0;
    pb_value v;
    while (c.p < c.end) {
        if (pb_field(&c, &v))
            return malformed(r, where);
        if (v.number == 1 && (v.wire == 0 || v.wire == 2) && tensor_dims(&v, &rank, &count, &bad))
            return malformed(r, where);
        if (v.number == 8 && v.wire == 2)
            text(&v, name, sizeof name);
        if (v.number == 13 || (v.number == 14 && v.varint == 1))
            return refuse(r, "%s: tensor '%s' points to external data (a file outside the graph), which aeexport "
                          "never writes; refusing it before onnxruntime opens that file.", where, name);
        if ((v.number >= 4 && v.number <= 7) || (v.number >= 9 && v.number <= 11))
            stored += v.wire == 2 ? (unsigned long long)(v.sub.end - v.sub.p) : 8;
    }
    if (bad || rank > MAX_TENSOR_RANK)
        return refuse(r, "%s: tensor '%s' has %zu dims, one of them outside 0..%llu: expected at most %d dimensions "
                      "of 0..%llu.", where, name, rank, MAX_DIM, MAX_TENSOR_RANK, MAX_DIM);
    if (count > (stored > 0 ? 2 * stored : 1))
        return refuse(r, "%s: tensor '%s' declares %s%llu elements but holds %llu bytes of data: onnxruntime would "
                      "allocate memory the file does not contain.", where, name, count > MAX_ELEMENTS ? "over " : "",
                      count > MAX_ELEMENTS ? MAX_ELEMENTS : count, stored);
    return 0;
}

/* The fixed dims of a TensorShapeProto (symbolic ones are skipped, as aeruntime does). */
static int shape_dims(pb_cursor c, size_t *rank, unsigned long long *product, int *bad, const char *where, report *r) {
    pb_value dim, f;
    while (c.p < c.end) {
        if (pb_field(&c, &dim))
            return malformed(r, where);
        if (dim.number != 1 || dim.wire != 2)
            continue;
        (*rank)++;
        for (pb_cursor d = dim.sub; d.p < d.end;) {
            if (pb_field(&d, &f))
                return malformed(r, where);
            if (f.number == 1 && f.wire == 0) {
                *bad |= f.varint > MAX_DIM; /* a negative int64 is a huge uint64 */
                times(product, f.varint);
            }
        }
    }
    return 0;
}

/* A message's first length-delimited field NUMBER, as a cursor; 0 found, 1 absent, -1 malformed. */
static int child(pb_cursor c, unsigned number, pb_cursor *out) {
    pb_value v;
    while (c.p < c.end) {
        if (pb_field(&c, &v))
            return -1;
        if (v.number == number && v.wire == 2) {
            *out = v.sub;
            return 0;
        }
    }
    return 1;
}

static int check_value(pb_cursor c, const char *where, report *r) {
    char name[128] = "";
    pb_value v;
    pb_cursor type = {NULL, NULL}, tensor, shape;
    for (pb_cursor s = c; s.p < s.end;) {
        if (pb_field(&s, &v))
            return malformed(r, where);
        if (v.number == 1 && v.wire == 2)
            text(&v, name, sizeof name);
        if (v.number == 2 && v.wire == 2)
            type = v.sub;
    }
    if (!type.p)
        return 0;
    int found = child(type, 1, &tensor);
    found = found == 0 ? child(tensor, 2, &shape) : found;
    if (found < 0)
        return malformed(r, where);
    size_t rank = 0;
    unsigned long long product = 1;
    int bad = 0;
    if (found == 0 && shape_dims(shape, &rank, &product, &bad, where, r))
        return -1;
    if (bad || rank > MAX_TENSOR_RANK || product > MAX_ELEMENTS)
        return refuse(r, "%s declares value '%s' of %zu dims: expected at most %d dimensions of 0..%llu and %llu "
                      "elements per row.", where, name, rank, MAX_TENSOR_RANK, MAX_DIM, MAX_ELEMENTS);
    return 0;
}

static int check_attribute(pb_cursor c, const char *where, const char *node, const char *op, report *r) {
    pb_value v;
    while (c.p < c.end) {
        if (pb_field(&c, &v))
            return malformed(r, where);
        if (v.number == 6 || v.number == 11 || (v.number == 20 && (v.varint == 5 || v.varint == 10)))
            return refuse(r, "%s: node '%s' (op '%s') holds a subgraph (Loop/Scan/If bodies are never written by "
                          "aeexport); refusing it before onnxruntime sees the graph.", where, node, op);
        if (v.number == 22 || v.number == 23)
            return refuse(r, "%s: node '%s' (op '%s') holds a sparse tensor, which aeexport never writes.", where,
                          node, op);
        if ((v.number == 5 || v.number == 10) && v.wire == 2 && check_tensor(v.sub, where, r))
            return -1;
    }
    return 0;
}

static int check_node(pb_cursor c, const char *where, report *r) {
    char name[128] = "", op[128] = "", domain[128] = "";
    pb_value v;
    for (pb_cursor s = c; s.p < s.end;) { /* names first: the attributes' messages name the node */
        if (pb_field(&s, &v))
            return malformed(r, where);
        if (v.wire == 2 && (v.number == 3 || v.number == 4 || v.number == 7))
            text(&v, v.number == 3 ? name : v.number == 4 ? op : domain, sizeof name);
    }
    while (c.p < c.end) {
        if (pb_field(&c, &v))
            return malformed(r, where);
        if (v.number == 5 && v.wire == 2 && check_attribute(v.sub, where, name, op, r))
            return -1;
    }
    if (!is_default_domain(domain))
        return refuse(r, "%s: node '%s' (op '%s', domain '%s') is in a domain aeexport does not use (allowed: the "
                      "default ai.onnx domain); refusing it before onnxruntime sees the graph.", where, name, op, domain);
    if (!allowed(op))
        return refuse(r, "%s: node '%s' (op '%s', domain '%s') is an operator aeexport does not emit (allowed: %zu op "
                      "types, ops.h = aeruntime.format.ops.ALLOWED_OPS); refusing it before onnxruntime sees the graph.",
                      where, name, op, domain, ALLOWED_OPS_COUNT);
    return 0;
}

static int check_graph(pb_cursor c, const char *where, report *r) {
    pb_value v;
    while (c.p < c.end) {
        if (pb_field(&c, &v))
            return malformed(r, where);
        if (v.number == 15)
            return refuse(r, "%s holds sparse initializers, which aeexport never writes.", where);
        if (v.wire != 2)
            continue;
        int rc = v.number == 1                                          ? check_node(v.sub, where, r)
                 : v.number == 5                                        ? check_tensor(v.sub, where, r)
                 : v.number == 11 || v.number == 12 || v.number == 13 ? check_value(v.sub, where, r)
                                                                        : 0;
        if (rc)
            return -1;
    }
    return 0;
}

static int check_opset(pb_cursor c, const char *where, report *r) {
    char domain[128] = "";
    pb_cursor s;
    int found = child(c, 1, &s);
    if (found < 0)
        return malformed(r, where);
    if (found == 0) {
        pb_value v = {.sub = s};
        text(&v, domain, sizeof domain);
    }
    if (!is_default_domain(domain))
        return refuse(r, "%s imports opset domain '%s'; aeexport graphs import only the default ai.onnx domain.", where,
                      domain);
    return 0;
}

int onnxcheck(const uint8_t *buf, size_t len, char *err, size_t errlen) {
    report r = {err, errlen};
    const char *where = "the graph";
    pb_cursor c = {buf, buf + len}, graph = {NULL, NULL};
    pb_value v;
    int graphs = 0;
    while (c.p < c.end) {
        if (pb_field(&c, &v))
            return malformed(&r, where);
        if (v.number == 20 || v.number == 25)
            return refuse(&r, "the graph holds %s, which aeexport never writes.",
                          v.number == 20 ? "training_info entries" : "model-local functions");
        if (v.number == 8 && v.wire == 2 && check_opset(v.sub, where, &r))
            return -1;
        if (v.number == 7 && v.wire == 2) {
            graphs++;
            graph = v.sub;
        }
    }
    if (graphs != 1)
        return refuse(&r, "expected exactly one graph in the model, found %d (not an ONNX model aeexport wrote).",
                      graphs);
    return check_graph(graph, where, &r);
}
