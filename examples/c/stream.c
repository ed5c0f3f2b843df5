/* The stream: the last W rows in a ring stored twice over (2W rows: row i at slot i mod W and i mod W + W),
 * so the window ending at the newest row is one contiguous slice. The W input tensors (one per slice start)
 * and the output tensors wrap buffers allocated at start-up; per row there is one onnxruntime Run and no
 * allocation of ours (onnxruntime's arena reuses its own scratch memory). */
#define _POSIX_C_SOURCE 200809L
#include "stream.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"

/* The persistence rule of aeruntime.series.alarm.AlarmRule: the last n labels in a ring, their count, the
 * quiet steps left after an alarm. */
typedef struct {
    unsigned char *ring;
    long k, n, hold_off, pos, count, quiet;
} alarm_rule;

static int alarm_step(alarm_rule *a, int label) {
    a->count += label - a->ring[a->pos];
    a->ring[a->pos] = (unsigned char)label;
    a->pos = a->pos + 1 < a->n ? a->pos + 1 : 0;
    if (a->quiet) {
        a->quiet--;
        return 0;
    }
    if (a->count >= a->k) {
        a->quiet = a->hold_off;
        return 1;
    }
    return 0;
}

typedef struct {
    model *m;
    float *buf, *row;     /* 2W x C ring; one row read */
    OrtValue **windows;   /* W tensors (1, W, C): windows[s] over buf + s * C */
    OrtValue *threshold;  /* the graph's threshold input (--threshold on a decision scorer), or NULL */
    OrtValue *out[3];     /* score, label, p_value: (1,) tensors over the three below */
    float score, p_value, threshold_value;
    unsigned char label;  /* a bool tensor's storage */
    int decisions;        /* the graph outputs label and p_value */
    alarm_rule alarm;
} stream;

static int tensor(stream *s, void *data, size_t bytes, const int64_t *dims, size_t rank,
                  ONNXTensorElementDataType type, OrtValue **out, failure *f) {
    const OrtApi *api = s->m->api;
    OrtStatus *status = api->CreateTensorWithDataAsOrtValue(s->m->memory, data, bytes, dims, rank, type, out);
    if (!status)
        return 0;
    fail(f, 1, "%s: onnxruntime could not make the stream's tensors: %s", s->m->graph, api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    return -1;
}

static int stream_open(stream *s, model *m, failure *f) {
    size_t w = m->window, c = m->columns;
    memset(s, 0, sizeof *s);
    s->m = m;
    s->decisions = m->label_name && m->p_name;
    s->buf = calloc(2 * w * c, sizeof *s->buf);
    s->row = calloc(c, sizeof *s->row);
    s->windows = calloc(w, sizeof *s->windows);
    s->alarm = (alarm_rule){calloc((size_t)m->alarm_n, 1), m->alarm_k, m->alarm_n, m->hold_off, 0, 0, 0};
    if (!s->buf || !s->row || !s->windows || !s->alarm.ring)
        return fail(f, 1, "out of memory");
    int64_t dims[3] = {1, (int64_t)w, (int64_t)c}, one = 1;
    for (size_t i = 0; i < w; i++)
        if (tensor(s, s->buf + i * c, w * c * sizeof *s->buf, dims, 3, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                   &s->windows[i], f))
            return -1;
    s->threshold_value = model_graph_threshold(m->threshold);
    if (m->has_threshold_input && m->feed_threshold &&
        tensor(s, &s->threshold_value, sizeof(float), NULL, 0, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &s->threshold, f))
        return -1;
    if (tensor(s, &s->score, sizeof(float), &one, 1, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &s->out[0], f) ||
        (s->decisions &&
         (tensor(s, &s->label, 1, &one, 1, ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL, &s->out[1], f) ||
          tensor(s, &s->p_value, sizeof(float), &one, 1, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &s->out[2], f))))
        return -1;
    return 0;
}

static void stream_close(stream *s) {
    const OrtApi *api = s->m ? s->m->api : NULL;
    for (size_t i = 0; api && s->windows && i < s->m->window; i++)
        if (s->windows[i])
            api->ReleaseValue(s->windows[i]);
    for (size_t i = 0; api && i < 3; i++)
        if (s->out[i])
            api->ReleaseValue(s->out[i]);
    if (api && s->threshold)
        api->ReleaseValue(s->threshold);
    free(s->windows);
    free(s->buf);
    free(s->row);
    free(s->alarm.ring);
}

/* The row just read (index T in the stream) into the ring; its score, label and p-value (warm-up: nan, 0). */
static int stream_push(stream *s, long t, failure *f) {
    model *m = s->m;
    size_t w = m->window, c = m->columns, slot = (size_t)t % w;
    memcpy(s->buf + slot * c, s->row, c * sizeof *s->row);
    memcpy(s->buf + (slot + w) * c, s->row, c * sizeof *s->row);
    if ((size_t)t + 1 < w) {
        s->score = s->p_value = NAN;
        s->label = 0;
        return 0;
    }
    const char *in_names[] = {m->input_name, "threshold"}, *out_names[] = {m->output_name, m->label_name, m->p_name};
    const OrtValue *inputs[] = {s->windows[((size_t)t + 1) % w], s->threshold};
    if (model_run(m, in_names, inputs, s->threshold ? 2 : 1, out_names, s->out, s->decisions ? 3 : 1, f))
        return -1;
    if (!isfinite(s->score))
        return fail(f, 2, "stream row %ld has finite values, but its window's score overflows to %g; rescale the "
                    "features (the model computes in float32).", t, (double)s->score);
    if (!s->decisions)
        s->label = (double)s->score > m->threshold;
    return 0;
}

static int emit(const stream *s, int alarm, failure *f) {
    int rc = s->decisions ? printf("%.9g,%d,%.9g,%d\n", (double)s->score, s->label != 0, (double)s->p_value, alarm)
                          : printf("%.9g,%d,%d\n", (double)s->score, s->label != 0, alarm);
    if (rc < 0 || fflush(stdout) != 0)
        return fail(f, 1, "-: cannot write the scores (%s)", strerror(errno));
    return 0;
}

int stream_rows(model *m, FILE *in, const char *name, failure *f) {
    if (!m->series)
        return fail(f, 2, "%s is not a series bundle (its graph has no aeexport.series metadata): --stream needs a "
                    "bundle of windows (W, C). Score whole rows without --stream.", m->graph);
    stream s;
    rowreader r = {.fh = in, .name = name, .width = m->columns, .names = m->names};
    char err[sizeof f->msg - 64];
    int rc = stream_open(&s, m, f);
    if (rc == 0 && (fputs(s.decisions ? "score,label,p_value,alarm\n" : "score,label,alarm\n", stdout) < 0 ||
                    fflush(stdout) != 0))
        rc = fail(f, 1, "-: cannot write the scores (%s)", strerror(errno));
    for (long n; rc == 0 && (n = rows_read(&r, s.row, 1, err, sizeof err)) != 0;) {
        if (n < 0)
            rc = fail(f, 2, "stream row %ld refused: %s", r.rows, err);
        else if ((rc = stream_push(&s, r.rows - 1, f)) == 0)
            rc = emit(&s, alarm_step(&s.alarm, s.label != 0), f);
    }
    stream_close(&s);
    rows_free(&r);
    return rc;
}
