/* A bounds-checked reader of ONNX TensorProto files holding float32 tensors (golden vectors). */
#ifndef AESCORE_TENSORPB_H
#define AESCORE_TENSORPB_H

#include <stddef.h>
#include <stdint.h>

#define TENSORPB_MAX_RANK 8
/* the largest golden-vector file read: a real one holds a few rows (a few KB) */
#define TENSORPB_MAX_BYTES (64u * 1024u * 1024u)

typedef struct {
    size_t rank;
    int64_t dims[TENSORPB_MAX_RANK];
    size_t count; /* product of dims */
    float *data;  /* count floats, owned (free with tensorpb_free) */
} tensorpb;

/* The protobuf wire format, shared with onnxcheck.c: a cursor over [p, end), bounds-checked reads. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} pb_cursor;
/* A varint at the cursor (at most 10 bytes) into *OUT. 0, or -1 when truncated or too long. */
int pb_varint(pb_cursor *c, uint64_t *out);
/* N bytes at the cursor: *OUT points at them. 0, or -1 when fewer are left. */
int pb_take(pb_cursor *c, size_t n, const uint8_t **out);
/* One field at the cursor: its number, wire type (0 varint, 1 i64, 2 length-delimited, 5 i32) and value
 * (varint: the value; length-delimited: a cursor over its bytes). 0, or -1 when malformed or truncated. */
typedef struct {
    unsigned number, wire;
    uint64_t varint;
    pb_cursor sub;
} pb_value;
int pb_field(pb_cursor *c, pb_value *out);

/* Reads PATH into *OUT. Returns 0, or -1 with a one-line reason in ERR (ERRLEN bytes). */
int tensorpb_read(const char *path, tensorpb *out, char *err, size_t errlen);
/* Parses LEN bytes of a serialized TensorProto (the same contract). */
int tensorpb_parse(const uint8_t *buf, size_t len, tensorpb *out, char *err, size_t errlen);
void tensorpb_free(tensorpb *t);

#endif
