/* The scorer graph: one onnxruntime session, its metadata read through the C API
 * (ModelMetadataLookupCustomMetadataMap), one Run per batch of rows. */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REEXPORT "Re-export the bundle with aeexport."

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

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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

static int read_metadata(model *m, failure *f) {
    OrtModelMetadata *meta = NULL;
    char *names = NULL;
    if (ort_check(m, m->api->SessionGetModelMetadata(m->session, &meta), "read its metadata", f))
        return -1;
    int rc = read_shape(m, meta, f);
    if (rc == 0)
        rc = lookup(m, meta, "aeexport.feature_names", &names, f);
    if (rc == 0 && names && parse_names(names, m->width, &m->names))
        rc = fail(f, 1, "%s: aeexport.feature_names is not a JSON list of %zu plain names. " REEXPORT, m->graph, m->width);
    free(names);
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

static int open_session(model *m, const char *bundle, failure *f) {
    snprintf(m->graph, sizeof m->graph, "%s/scorer.onnx", bundle);
    if (!is_file(m->graph)) {
        snprintf(m->graph, sizeof m->graph, "%s/scorer.ort", bundle);
        if (!is_file(m->graph)) {
            struct stat st;
            if (stat(bundle, &st) != 0 || !S_ISDIR(st.st_mode))
                return fail(f, 2, "%s: no such bundle directory. Pass the directory aeexport export wrote.", bundle);
            return fail(f, 1, "%s: the bundle has no scorer graph (scorer.onnx or scorer.ort); this consumer runs "
                        "the scorer. Re-export the bundle with a current aeexport.", bundle);
        }
    }
    if (ort_check(m, m->api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "aescore", &m->env), "start", f) ||
        ort_check(m, m->api->CreateSessionOptions(&m->opts), "start", f) ||
        ort_check(m, m->api->SetIntraOpNumThreads(m->opts, 1), "start", f) ||
        ort_check(m, m->api->CreateSession(m->env, m->graph, m->opts, &m->session), "load it", f) ||
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
static float graph_threshold(double t) {
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
    float threshold = graph_threshold(m->threshold);
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

int model_score(model *m, const float *rows, size_t n, float *scores, failure *f) {
    return model_decide(m, rows, n, scores, NULL, NULL, f);
}

void model_close(model *m) {
    if (!m->api)
        return;
    for (size_t i = 0; m->names && i < m->width; i++)
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
