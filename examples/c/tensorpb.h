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

/* Reads PATH into *OUT. Returns 0, or -1 with a one-line reason in ERR (ERRLEN bytes). */
int tensorpb_read(const char *path, tensorpb *out, char *err, size_t errlen);
/* Parses LEN bytes of a serialized TensorProto (the same contract). */
int tensorpb_parse(const uint8_t *buf, size_t len, tensorpb *out, char *err, size_t errlen);
void tensorpb_free(tensorpb *t);

#endif
