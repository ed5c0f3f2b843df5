/* The scorer graph: one onnxruntime session, its metadata read through the C API
 * (ModelMetadataLookupCustomMetadataMap), one Run per batch of rows. */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnxcheck.h"

#define REEXPORT "Re-export the bundle with aeexport."
/* the largest graph read (protobuf's own limit is 2 GiB) */
#define MAX_GRAPH_BYTES 2147483647u

int fail(failure *f, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    f->code = code;
    return -1;
}

/* onnxruntime's status as a failure (exit 1: the bundle or the runtime); 0 when STATUS is NULL. */
static int ort_check(model *m, OrtStatus *status, const char *what, failure *f) {
    if (!status)
        return 0;
    fail(f, 1, "%s: onnxruntime could not %s: %s", m->graph, what, m->api->GetErrorMessage(status));
    m->api->ReleaseStatus(status);
    return -1;
}

/* Frees what onnxruntime's allocator gave (a failure to free is not the user's business). */
static void ort_free(const model *m, OrtAllocator *alloc, void *p) {
    OrtStatus *status = m->api->AllocatorFree(alloc, p);
    if (status)
        m->api->ReleaseStatus(status);
}

/* A metadata value (malloc'd copy), or NULL when the key is absent. */
static int lookup(model *m, OrtModelMetadata *meta, const char *key, char **out, failure *f) {
    OrtAllocator *alloc;
    char *value = NULL;
    *out = NULL;
    if (ort_check(m, m->api->GetAllocatorWithDefaultOptions(&alloc), "allocate", f) ||
        ort_check(m, m->api->ModelMetadataLookupCustomMetadataMap(meta, alloc, key, &value), "read its metadata", f))
        return -1;
    if (value) {
        *out = strdup(value);
        ort_free(m, alloc, value);
        if (!*out)
            return fail(f, 1, "out of memory");
    }
    return 0;
}

/* "[1, 8, 8]" -> the product of the integers; 0 when malformed. */
static size_t shape_product(const char *s, int64_t *dims, size_t *rank) {
    size_t product = 1;
    *rank = 0;
    const char *p = strchr(s, '[');
    if (!p)
        return 0;
    for (p++;;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1 || v > INT32_MAX || *rank >= MODEL_MAX_RANK - 1 || product > (size_t)INT32_MAX / (size_t)v)
            return 0;
        dims[(*rank)++] = v;
        product *= (size_t)v;
        while (*end == ' ')
            end++;
        if (*end == ']')
            return product;
        if (*end != ',')
            return 0;
        p = end + 1;
    }
}

/* One JSON string at *P (ASCII escapes only) into a malloc'd copy; *P moves past it. */
static char *json_string(const char **p) {
    const char *s = *p;
    if (*s != '"')
        return NULL;
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (s++; *s && *s != '"'; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        s++;
        const char *plain = strchr("\"\\/", *s);
        unsigned code;
        if (*s && plain)
            *o++ = *s;
        else if (*s == 'u' && sscanf(s + 1, "%4x", &code) == 1 && code > 0 && code < 0x80 && strlen(s) > 4)
            *o++ = (char)code, s += 4;
        else
            return free(out), NULL; /* another escape: refused rather than guessed */
    }
    if (*s != '"')
        return free(out), NULL;
    *o = '\0';
    *p = s + 1;
    return out;
}

/* '["px0", "px1", ...]' -> exactly N names; 0, or -1 when malformed or of another count. */
static int parse_names(const char *s, size_t n, char ***out) {
    char **names = calloc(n ? n : 1, sizeof *names);
    size_t got = 0;
    const char *p = s;
    while (*p == ' ')
        p++;
    int ok = names && *p++ == '[';
    while (ok) {
        while (*p == ' ')
            p++;
        char *name = got < n ? json_string(&p) : NULL;
        if (!name) {
            ok = 0;
            break;
        }
        names[got++] = name;
        while (*p == ' ')
            p++;
        if (*p == ']' && got == n && p[1] == '\0')
            break;
        ok = *p++ == ',';
    }
    if (!ok) {
        for (size_t i = 0; names && i < got; i++)
            free(names[i]);
        free(names);
        return -1;
    }
    *out = names;
    return 0;
}

static int read_shape(model *m, OrtModelMetadata *meta, failure *f) {
    char *shape = NULL, *threshold = NULL;
    int64_t dims[MODEL_MAX_RANK];
    size_t rank = 0;
    int rc = -1;
    if (lookup(m, meta, "aeexport.input_shape", &shape, f) || lookup(m, meta, "aeexport.threshold", &threshold, f))
        goto done;
    if (!shape || !threshold) {
        fail(f, 1, "%s: the graph has no aeexport.%s metadata, so it is not a graph aeexport wrote. " REEXPORT,
             m->graph, shape ? "threshold" : "input_shape");
        goto done;
    }
    m->width = shape_product(shape, dims, &rank);
    char *end;
    m->threshold = strtod(threshold, &end);
    if (!m->width || *end || !isfinite(m->threshold)) {
        fail(f, 1, "%s: malformed aeexport.%s metadata ('%.80s'). " REEXPORT, m->graph,
             m->width ? "threshold" : "input_shape", m->width ? threshold : shape);
        goto done;
    }
    m->rank = rank + 1;
    memcpy(m->dims + 1, dims, rank * sizeof *dims);
    rc = 0;
done:
    free(shape);
    free(threshold);
    return rc;
}

/* The integer after "KEY": in the JSON object text S (a key, not a string value: preceded by no backslash and
 * followed by a colon). 0, or -1 when absent or not an integer. */
static int json_int(const char *s, const char *key, long *out) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    for (const char *p = strstr(s, quoted); p; p = strstr(p + 1, quoted)) {
        const char *q = p + strlen(quoted);
        while (*q == ' ')
            q++;
        if ((p > s && p[-1] == '\\') || *q != ':')
            continue;
        char *end;
        *out = strtol(q + 1, &end, 10);
        while (*end == ' ')
            end++;
        return end != q + 1 && (*end == ',' || *end == '}') ? 0 : -1;
    }
    return -1;
}

/* aeexport.series (the manifest's series section as JSON): the window, the step rule and the alarm rule. */
static int read_series(model *m, const char *text, failure *f) {
    long window = 0;
    const char *rule = strstr(text, "\"step_score\"");
    if (rule)
        rule += strlen("\"step_score\"") + strspn(rule + strlen("\"step_score\""), " :");
    if (json_int(text, "window", &window) || json_int(text, "k", &m->alarm_k) || json_int(text, "n", &m->alarm_n) ||
        json_int(text, "hold_off", &m->hold_off))
        return fail(f, 1, "%s: malformed aeexport.series metadata ('%.120s'): expected window and alarm k, n, hold_off "
                    "integers. " REEXPORT, m->graph, text);
    if (!rule || strncmp(rule, "\"window_end\"", 12) != 0)
        return fail(f, 1, "%s: aeexport.series has a step_score this consumer does not know (it knows \"window_end\": "
                    "the score of step t is the window ending at t). Use a newer consumer or re-export.", m->graph);
    if (m->rank != 3 || window != m->dims[1] || m->alarm_k < 1 || m->alarm_k > m->alarm_n || m->alarm_n > 1000000 ||
        m->hold_off < 0 || m->hold_off > 1000000000L)
        return fail(f, 1, "%s: aeexport.series (window %ld, alarm k %ld n %ld hold_off %ld) does not fit the input "
                    "shape or 1 <= k <= n <= 1e6, 0 <= hold_off. " REEXPORT, m->graph, window, m->alarm_k, m->alarm_n,
                    m->hold_off);
    m->series = 1;
    m->window = (size_t)window;
    m->columns = (size_t)m->dims[2];
    return 0;
}

static int read_metadata(model *m, failure *f) {
    OrtModelMetadata *meta = NULL;
    char *names = NULL, *series = NULL;
    if (ort_check(m, m->api->SessionGetModelMetadata(m->session, &meta), "read its metadata", f))
        return -1;
    int rc = read_shape(m, meta, f);
    if (rc == 0)
        rc = lookup(m, meta, "aeexport.series", &series, f);
    if (rc == 0 && series)
        rc = read_series(m, series, f);
    m->nnames = m->series ? m->columns : m->width;
    if (rc == 0)
        rc = lookup(m, meta, "aeexport.feature_names", &names, f);
    if (rc == 0 && names && parse_names(names, m->nnames, &m->names))
        rc = fail(f, 1, "%s: aeexport.feature_names is not a JSON list of %zu plain names. " REEXPORT, m->graph, m->nnames);
    free(names);
    free(series);
    m->api->ReleaseModelMetadata(meta);
    return rc;
}

/* A name (malloc'd copy) of onnxruntime's allocator, after the call that gave it returned STATUS; NULL on
 * failure with F set. */
static char *own_name(model *m, OrtAllocator *alloc, OrtStatus *status, char *name, failure *f) {
    if (ort_check(m, status, "read its outputs", f))
        return NULL;
    char *copy = strdup(name);
    ort_free(m, alloc, name);
    if (!copy)
        fail(f, 1, "out of memory");
    return copy;
}

/* A decision scorer's outputs "label" and "p_value" and its optional input "threshold" (an
 * overridable initializer: not counted by SessionGetInputCount). */
static int read_decisions(model *m, OrtAllocator *alloc, size_t nout, failure *f) {
    size_t ninit = 0;
    char *name;
    for (size_t i = 1; i < nout; i++) {
        OrtStatus *status = m->api->SessionGetOutputName(m->session, i, alloc, &name);
        char *got = own_name(m, alloc, status, name, f); /* name is set once the call returned */
        if (!got)
            return -1;
        char **slot = strcmp(got, "label") == 0 ? &m->label_name : strcmp(got, "p_value") == 0 ? &m->p_name : NULL;
        if (slot && !*slot)
            *slot = got;
        else
            free(got);
    }
    if (ort_check(m, m->api->SessionGetOverridableInitializerCount(m->session, &ninit), "read its inputs", f))
        return -1;
    for (size_t i = 0; i < ninit; i++) {
        OrtStatus *status = m->api->SessionGetOverridableInitializerName(m->session, i, alloc, &name);
        char *got = own_name(m, alloc, status, name, f);
        if (!got)
            return -1;
        m->has_threshold_input |= strcmp(got, "threshold") == 0;
        free(got);
    }
    return 0;
}

/* The graph's one float32 input of rank 1 + len(input_shape), and its output's name. */
static int read_io(model *m, failure *f) {
    OrtAllocator *alloc;
    size_t nin = 0, nout = 0;
    char *in = NULL, *out = NULL;
    if (ort_check(m, m->api->GetAllocatorWithDefaultOptions(&alloc), "allocate", f) ||
        ort_check(m, m->api->SessionGetInputCount(m->session, &nin), "read its inputs", f) ||
        ort_check(m, m->api->SessionGetOutputCount(m->session, &nout), "read its outputs", f))
        return -1;
    if (nin != 1 || nout < 1)
        return fail(f, 1, "%s: the scorer has %zu inputs and %zu outputs, expected 1 input and a score output. " REEXPORT,
                    m->graph, nin, nout);
    if (ort_check(m, m->api->SessionGetInputName(m->session, 0, alloc, &in), "read its inputs", f))
        return -1;
    if (ort_check(m, m->api->SessionGetOutputName(m->session, 0, alloc, &out), "read its outputs", f)) {
        ort_free(m, alloc, in);
        return -1;
    }
    m->input_name = strdup(in);
    m->output_name = strdup(out);
    ort_free(m, alloc, in);
    ort_free(m, alloc, out);
    if (!m->input_name || !m->output_name)
        return fail(f, 1, "out of memory");
    return read_decisions(m, alloc, nout, f);
}

/* The scorer's bytes (a regular file of at most MAX_GRAPH_BYTES) into a malloc'd *BUF. */
static int read_graph(model *m, uint8_t **buf, size_t *len, failure *f) {
    int fd = open(m->graph, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC); /* no symlink, no blocking FIFO */
    FILE *fh = fd >= 0 ? fdopen(fd, "rb") : NULL;
    struct stat st;
    if (!fh || fstat(fileno(fh), &st) != 0 || !S_ISREG(st.st_mode) || (uintmax_t)st.st_size > MAX_GRAPH_BYTES) {
        if (fh)
            fclose(fh);
        else if (fd >= 0)
            close(fd);
        return fail(f, 1, "%s: not a regular file of at most %u bytes (a symlink, FIFO or device is refused); a "
                    "bundle's graphs are. " REEXPORT, m->graph, MAX_GRAPH_BYTES);
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    size_t got = *buf ? fread(*buf, 1, *len, fh) : 0;
    fclose(fh);
    if (!*buf || got != *len) {
        free(*buf);
        *buf = NULL;
        return fail(f, 1, "%s: %s", m->graph, got != *len ? "a read error (the file changed while read?)" : "out of memory");
    }
    return 0;
}

/* scorer.onnx: read once, checked (onnxcheck.c), and those same bytes given to onnxruntime (nothing can swap
 * the file between the check and the load). */
static int create_session(model *m, failure *f) {
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[sizeof f->msg - 256];
    if (read_graph(m, &buf, &len, f))
        return -1;
    int rc = onnxcheck(buf, len, why, sizeof why) ? fail(f, 1, "%s: %s", m->graph, why)
             : ort_check(m, m->api->CreateSessionFromArray(m->env, buf, len, m->opts, &m->session), "load it", f);
    free(buf);
    return rc;
}

static int open_session(model *m, const char *bundle, failure *f) {
    struct stat st;
    snprintf(m->graph, sizeof m->graph, "%s/scorer.onnx", bundle);
    if (lstat(m->graph, &st) != 0) { /* a link, FIFO or device there is refused by read_graph, never followed */
        if (stat(bundle, &st) != 0 || !S_ISDIR(st.st_mode))
            return fail(f, 2, "%s: no such bundle directory. Pass the directory aeexport export wrote.", bundle);
        snprintf(m->graph, sizeof m->graph, "%s/scorer.ort", bundle);
        if (lstat(m->graph, &st) == 0) /* an ORT-format flatbuffer: onnxcheck.c walks ONNX protobuf only */
            return fail(f, 1, "%s: an ORT-format graph, which this consumer cannot check before onnxruntime parses it "
                        "(it checks ONNX protobuf only), so it is refused. Use the ONNX bundle this variant was made "
                        "from (scorer.onnx), or check this one with `aeruntime verify` on a trusted machine.", m->graph);
        return fail(f, 1, "%s: the bundle has no scorer graph (scorer.onnx); this consumer runs the scorer. "
                    "Re-export the bundle with a current aeexport.", bundle);
    }
    if (ort_check(m, m->api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "aescore", &m->env), "start", f) ||
        ort_check(m, m->api->CreateSessionOptions(&m->opts), "start", f) ||
        ort_check(m, m->api->SetIntraOpNumThreads(m->opts, 1), "start", f) ||
        create_session(m, f) ||
        ort_check(m, m->api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &m->memory), "start", f))
        return -1;
    return 0;
}

int model_open(model *m, const char *bundle, failure *f) {
    memset(m, 0, sizeof *m);
    m->api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!m->api)
        return fail(f, 1, "this onnxruntime does not offer C API version %d", ORT_API_VERSION);
    if (open_session(m, bundle, f) || read_metadata(m, f) || read_io(m, f))
        return -1;
    return 0;
}

/* The float32 a graph compares with: the largest float32 <= T, so that score > it equals score > T. */
float model_graph_threshold(double t) {
    float g = (float)t;
    return (double)g > t ? nextafterf(g, -INFINITY) : g;
}

/* Output K of a Run as N values of SIZE bytes each, copied to DST. */
static int copy_output(model *m, OrtValue *value, size_t n, void *dst, size_t size, failure *f) {
    OrtTensorTypeAndShapeInfo *info = NULL;
    size_t count = 0;
    void *data = NULL;
    int rc = -1;
    if (ort_check(m, m->api->GetTensorTypeAndShape(value, &info), "read the scores", f) ||
        ort_check(m, m->api->GetTensorShapeElementCount(info, &count), "read the scores", f) ||
        ort_check(m, m->api->GetTensorMutableData(value, &data), "read the scores", f))
        goto done;
    if (count != n) {
        fail(f, 1, "%s: the scorer gave %zu values for %zu rows, expected one per row. " REEXPORT, m->graph, count, n);
        goto done;
    }
    memcpy(dst, data, n * size);
    rc = 0;
done:
    if (info)
        m->api->ReleaseTensorTypeAndShapeInfo(info);
    return rc;
}

int model_decide(model *m, const float *rows, size_t n, float *scores, unsigned char *labels, float *pvalues,
                 failure *f) {
    OrtValue *inputs[2] = {NULL, NULL}, *outputs[3] = {NULL, NULL, NULL};
    int64_t dims[MODEL_MAX_RANK];
    memcpy(dims, m->dims, sizeof dims);
    dims[0] = (int64_t)n;
    float threshold = model_graph_threshold(m->threshold);
    int decisions = labels && m->label_name && m->p_name;
    const char *in_names[] = {m->input_name, "threshold"}, *out_names[] = {m->output_name, m->label_name, m->p_name};
    size_t nin = m->has_threshold_input && m->feed_threshold ? 2 : 1, nout = decisions ? 3 : 1;
    int rc = -1;
    if (ort_check(m, m->api->CreateTensorWithDataAsOrtValue(m->memory, (void *)rows, n * m->width * sizeof(float), dims,
                                                            m->rank, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[0]),
                  "take the rows", f) ||
        (nin == 2 && ort_check(m, m->api->CreateTensorWithDataAsOrtValue(m->memory, &threshold, sizeof threshold, NULL, 0,
                                                                         ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[1]),
                               "take the threshold", f)) ||
        ort_check(m, m->api->Run(m->session, NULL, in_names, (const OrtValue *const *)inputs, nin, out_names, nout, outputs),
                  "score the rows", f) ||
        copy_output(m, outputs[0], n, scores, sizeof *scores, f))
        goto done;
    if (decisions && (copy_output(m, outputs[1], n, labels, 1, f) || copy_output(m, outputs[2], n, pvalues, sizeof *pvalues, f)))
        goto done;
    for (size_t i = 0; labels && !decisions && i < n; i++) /* a score-only graph: the comparison here */
        labels[i] = (double)scores[i] > m->threshold;
    rc = 0;
done:
    for (size_t i = 0; i < 3; i++)
        if (outputs[i])
            m->api->ReleaseValue(outputs[i]);
    for (size_t i = 0; i < 2; i++)
        if (inputs[i])
            m->api->ReleaseValue(inputs[i]);
    return rc;
}

int model_run(model *m, const char *const *in_names, const OrtValue *const *inputs, size_t nin,
              const char *const *out_names, OrtValue **outputs, size_t nout, failure *f) {
    return ort_check(m, m->api->Run(m->session, NULL, in_names, inputs, nin, out_names, nout, outputs), "score the rows", f);
}

int model_score(model *m, const float *rows, size_t n, float *scores, failure *f) {
    return model_decide(m, rows, n, scores, NULL, NULL, f);
}

void model_close(model *m) {
    if (!m->api)
        return;
    for (size_t i = 0; m->names && i < m->nnames; i++)
        free(m->names[i]);
    free(m->names);
    free(m->input_name);
    free(m->output_name);
    free(m->label_name);
    free(m->p_name);
    if (m->memory)
        m->api->ReleaseMemoryInfo(m->memory);
    if (m->session)
        m->api->ReleaseSession(m->session);
    if (m->opts)
        m->api->ReleaseSessionOptions(m->opts);
    if (m->env)
        m->api->ReleaseEnv(m->env);
    memset(m, 0, sizeof *m);
}
