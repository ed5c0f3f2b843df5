/* A bundle's scorer graph through onnxruntime's C API, described by its own aeexport.* metadata. */
#ifndef AESCORE_MODEL_H
#define AESCORE_MODEL_H

#include <onnxruntime_c_api.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_RANK 9 /* the batch dimension + at most 8 (the bundle format's MAX_RANK) */

/* What went wrong, as the Python CLI says it: exit code 1 (the bundle, onnxruntime) or 2 (the
 * user's rows or arguments), and one line of text. */
typedef struct {
    int code;
    char msg[2048];
} failure;

typedef struct {
    const OrtApi *api;
    OrtEnv *env;
    OrtSessionOptions *opts;
    OrtSession *session;
    OrtMemoryInfo *memory;
    char *input_name, *output_name; /* owned (malloc) */
    char *label_name, *p_name;      /* the decision outputs "label" (bool) and "p_value" (float32), or NULL */
    int has_threshold_input;        /* the graph has the optional float32 scalar input "threshold" */
    int feed_threshold;             /* feed m->threshold to it (--threshold) rather than its default */
    char graph[4096];               /* the graph's path, for messages */
    int64_t dims[MODEL_MAX_RANK];   /* the input's shape, dims[0] = rows */
    size_t rank;
    size_t width;   /* features per row: the product of aeexport.input_shape */
    double threshold;  /* aeexport.threshold */
    char **names;   /* aeexport.feature_names (nnames of them), or NULL when the graph has none */
    size_t nnames;  /* width, or for a series bundle the C columns of one step */
    /* a series bundle (aeexport.series, docs/bundle-format.md section 11): windows (W, C), the alarm rule */
    int series;
    size_t window, columns;
    long alarm_k, alarm_n, hold_off;
} model;

/* Loads BUNDLE/scorer.onnx (an ORT-format scorer.ort is refused: it cannot be checked). Returns 0, or -1 with F set. */
int model_open(model *m, const char *bundle, failure *f);
/* Scores N rows (N * width floats) into SCORES (N floats). Returns 0, or -1 with F set. */
int model_score(model *m, const float *rows, size_t n, float *scores, failure *f);
/* The decisions of N rows: SCORES, LABELS (the graph's label, else score > threshold) and PVALUES
 * (left untouched when the graph has no p_value output). Returns 0, or -1 with F set. */
int model_decide(model *m, const float *rows, size_t n, float *scores, unsigned char *labels, float *pvalues,
                 failure *f);
/* One Run with inputs and pre-allocated outputs (no allocation of ours): for the stream. 0, or -1 with F set. */
int model_run(model *m, const char *const *in_names, const OrtValue *const *inputs, size_t nin,
              const char *const *out_names, OrtValue **outputs, size_t nout, failure *f);
/* The float32 a graph compares with for threshold T (the largest float32 <= T). */
float model_graph_threshold(double t);
void model_close(model *m);
int fail(failure *f, int code, const char *fmt, ...);

#endif
