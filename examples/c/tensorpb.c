/* A bounds-checked reader of ONNX TensorProto files holding float32 tensors.
 *
 * A bundle is untrusted input, so every length is checked against the bytes left before it is
 * used, the rank is bounded, the element count is checked for overflow and against the payload,
 * and anything this reader does not understand (another data type, external data, a wire type
 * protobuf does not define) is refused with a reason rather than guessed at.
 *
 * Fields read (onnx.proto): 1 dims (int64, packed or not), 2 data_type (1 = FLOAT),
 * 4 float_data (packed or not), 9 raw_data (little-endian float32), 14 data_location
 * (1 = EXTERNAL: refused). Every other field is skipped by its wire type.
 */
#define _POSIX_C_SOURCE 200809L /* open's O_NOFOLLOW, lstat, fdopen */
#include "tensorpb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
enum { F_DIMS = 1, F_DATA_TYPE = 2, F_FLOAT_DATA = 4, F_RAW_DATA = 9, F_DATA_LOCATION = 14 };
enum { ONNX_FLOAT = 1, LOCATION_EXTERNAL = 1 };

typedef struct {
    size_t rank;
    int64_t dims[TENSORPB_MAX_RANK];
    int64_t data_type;
    int have_type;
    const uint8_t *raw;
    size_t raw_len;
    float *floats; /* float_data values, growable */
    size_t nfloats, cap;
} fields;

static int fail(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int pb_varint(pb_cursor *c, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            return -1;
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

int pb_take(pb_cursor *c, size_t n, const uint8_t **out) {
    if ((size_t)(c->end - c->p) < n)
        return -1;
    *out = c->p;
    c->p += n;
    return 0;
}

int pb_field(pb_cursor *c, pb_value *out) {
    uint64_t key, n;
    const uint8_t *b;
    memset(out, 0, sizeof *out);
    if (pb_varint(c, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    out->number = (unsigned)(key >> 3);
    out->wire = (unsigned)(key & 7);
    switch (out->wire) {
    case WT_VARINT:
        return pb_varint(c, &out->varint);
    case WT_LEN:
        if (pb_varint(c, &n) || n > (uint64_t)(c->end - c->p) || pb_take(c, (size_t)n, &b))
            return -1;
        out->sub = (pb_cursor){b, b + n};
        return 0;
    case WT_I64:
        return pb_take(c, 8, &b);
    case WT_I32:
        return pb_take(c, 4, &b);
    default:
        return -1; /* groups (3, 4) and undefined wire types: aeexport never writes them */
    }
}

static float le_float(const uint8_t *b) {
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int add_dim(fields *f, uint64_t v, char *err, size_t errlen) {
    if (f->rank >= TENSORPB_MAX_RANK)
        return fail(err, errlen, "the tensor has more than 8 dimensions");
    if (v > (uint64_t)INT32_MAX)
        return fail(err, errlen, "a dimension is negative or larger than 2**31 - 1");
    f->dims[f->rank++] = (int64_t)v;
    return 0;
}

static int add_float(fields *f, float v) {
    if (f->nfloats == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        float *grown = realloc(f->floats, cap * sizeof *grown);
        if (!grown)
            return -1;
        f->floats = grown;
        f->cap = cap;
    }
    f->floats[f->nfloats++] = v;
    return 0;
}

static int read_dims_packed(fields *f, const uint8_t *b, size_t n, char *err, size_t errlen) {
    pb_cursor c = {b, b + n};
    while (c.p < c.end) {
        uint64_t v;
        if (pb_varint(&c, &v) || add_dim(f, v, err, errlen))
            return err[0] ? -1 : fail(err, errlen, "truncated dims");
    }
    return 0;
}

static int read_floats_packed(fields *f, const uint8_t *b, size_t n, char *err, size_t errlen) {
    if (n % 4)
        return fail(err, errlen, "float_data is not a whole number of floats");
    for (size_t i = 0; i < n; i += 4)
        if (add_float(f, le_float(b + i)))
            return fail(err, errlen, "out of memory");
    return 0;
}

/* One length-delimited field. */
static int read_len(fields *f, unsigned field, pb_cursor *c, char *err, size_t errlen) {
    uint64_t n;
    const uint8_t *b;
    if (pb_varint(c, &n) || n > (uint64_t)(c->end - c->p) || pb_take(c, (size_t)n, &b))
        return fail(err, errlen, "a field's length runs past the end of the file");
    if (field == F_DIMS)
        return read_dims_packed(f, b, (size_t)n, err, errlen);
    if (field == F_FLOAT_DATA)
        return read_floats_packed(f, b, (size_t)n, err, errlen);
    if (field == F_RAW_DATA) {
        f->raw = b;
        f->raw_len = (size_t)n;
    }
    return 0;
}

static int read_varint_field(fields *f, unsigned field, pb_cursor *c, char *err, size_t errlen) {
    uint64_t v;
    if (pb_varint(c, &v))
        return fail(err, errlen, "a truncated varint");
    if (field == F_DIMS)
        return add_dim(f, v, err, errlen);
    if (field == F_DATA_TYPE) {
        f->data_type = (int64_t)v;
        f->have_type = 1;
    }
    if (field == F_DATA_LOCATION && v == LOCATION_EXTERNAL)
        return fail(err, errlen, "the tensor points to external data (refused: a bundle is self-contained)");
    return 0;
}

static int read_field(fields *f, pb_cursor *c, char *err, size_t errlen) {
    uint64_t key;
    const uint8_t *b;
    if (pb_varint(c, &key))
        return fail(err, errlen, "a truncated field key");
    unsigned field = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
    if (field == 0)
        return fail(err, errlen, "field number 0 (not a protobuf message)");
    switch (wire) {
    case WT_VARINT:
        return read_varint_field(f, field, c, err, errlen);
    case WT_LEN:
        return read_len(f, field, c, err, errlen);
    case WT_I64:
        return pb_take(c, 8, &b) ? fail(err, errlen, "a truncated 64-bit field") : 0;
    case WT_I32:
        if (pb_take(c, 4, &b))
            return fail(err, errlen, "a truncated 32-bit field");
        if (field == F_FLOAT_DATA && add_float(f, le_float(b)))
            return fail(err, errlen, "out of memory");
        return 0;
    default:
        return fail(err, errlen, "a wire type protobuf does not define (not a TensorProto)");
    }
}

static int finish(fields *f, tensorpb *out, char *err, size_t errlen) {
    if (!f->have_type || f->data_type != ONNX_FLOAT) {
        snprintf(err, errlen, "data_type %lld, expected 1 (float32)", (long long)f->data_type);
        return -1;
    }
    size_t count = 1;
    for (size_t i = 0; i < f->rank; i++) {
        if (f->dims[i] != 0 && count > (SIZE_MAX / 4) / (size_t)f->dims[i])
            return fail(err, errlen, "the element count overflows");
        count *= (size_t)f->dims[i];
    }
    size_t have = f->raw ? f->raw_len / 4 : f->nfloats;
    if ((f->raw && f->raw_len % 4) || have != count) {
        snprintf(err, errlen, "dims hold %zu elements, but the data holds %zu%s", count, have,
                 f->raw && f->raw_len % 4 ? " and a partial float" : "");
        return -1;
    }
    out->rank = f->rank;
    memcpy(out->dims, f->dims, sizeof out->dims);
    out->count = count;
    out->data = malloc(count ? count * sizeof(float) : 1);
    if (!out->data)
        return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < count; i++)
        out->data[i] = f->raw ? le_float(f->raw + 4 * i) : f->floats[i];
    return 0;
}

int tensorpb_parse(const uint8_t *buf, size_t len, tensorpb *out, char *err, size_t errlen) {
    fields f;
    memset(&f, 0, sizeof f);
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    pb_cursor c = {buf, buf + len};
    int rc = 0;
    while (rc == 0 && c.p < c.end)
        rc = read_field(&f, &c, err, errlen);
    if (rc == 0)
        rc = finish(&f, out, err, errlen);
    free(f.floats);
    return rc;
}

int tensorpb_read(const char *path, tensorpb *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC); /* no symlink, no blocking FIFO */
    if (fd < 0) {
        if (errno == ELOOP)
            return fail(err, errlen, "a symbolic link, never followed (a bundle holds plain files)");
        snprintf(err, errlen, "cannot open it (%s)", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, "not a regular file (a FIFO, device or folder is never read)");
    }
    FILE *fh = fdopen(fd, "rb");
    if (!fh) {
        close(fd);
        return fail(err, errlen, "out of memory");
    }
    long size = (long)st.st_size;
    if ((unsigned long)size > TENSORPB_MAX_BYTES) {
        fclose(fh);
        return fail(err, errlen, "larger than 64 MiB (a golden vector holds a few rows)");
    }
    uint8_t *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(fh);
        return fail(err, errlen, "out of memory");
    }
    size_t n = fread(buf, 1, (size_t)size + 1, fh);
    int bad = ferror(fh) || n != (size_t)size;
    fclose(fh);
    int rc = bad ? fail(err, errlen, "a read error (the file changed while read?)") : tensorpb_parse(buf, n, out, err, errlen);
    free(buf);
    return rc;
}

void tensorpb_free(tensorpb *t) {
    free(t->data);
    t->data = NULL;
}
