/* aescore: score an aeexport bundle's rows with onnxruntime's C API, as an embedded program would.
 *
 *   aescore [--threshold T] BUNDLE [ROWS|-]   CSV rows (header optional) -> "score,label" lines on stdout,
 *                                             "score,label,p_value" when the scorer outputs decisions
 *   aescore --check BUNDLE    run the bundle's golden vectors (test_data/scorer) and compare
 *   aescore [--threshold T] --stream BUNDLE [ROWS|-]   a series bundle, rows of C values read one at a time
 *                             -> one "score,label[,p_value],alarm" line per row as it arrives (stream.c)
 *
 * A decision scorer (outputs score, label, p_value) labels the rows itself; --threshold T is fed to
 * its optional "threshold" input (no re-export). A score-only scorer is labelled here: score > T
 * (default: the graph's aeexport.threshold).
 *
 * Exit codes as the Python CLI's: 0 ok, 1 a bad bundle (missing graph, metadata, golden mismatch)
 * or an onnxruntime failure, 2 the user's rows or arguments. Errors are one line: "error: ...".
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"
#include "rows.h"
#include "stream.h"
#include "tensorpb.h"

#define BATCH 256
#define ATOL 1e-5
#define RTOL 1e-4
#define USAGE "usage: aescore [--threshold T] [--stream] BUNDLE [ROWS|-] | aescore --check BUNDLE"

static int write_scores(const model *m, const float *scores, const unsigned char *labels, const float *pvalues,
                        size_t n, long first_row, failure *f) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(scores[i]))
            return fail(f, 2, "row %ld has finite values, but its score overflows to %g; rescale the features "
                        "(the model computes in float32).", first_row + (long)i, (double)scores[i]);
        int rc = m->p_name ? printf("%.9g,%d,%.9g\n", (double)scores[i], labels[i] != 0, (double)pvalues[i])
                           : printf("%.9g,%d\n", (double)scores[i], labels[i] != 0);
        if (rc < 0)
            return fail(f, 1, "-: cannot write the scores (%s)", strerror(errno));
    }
    return 0;
}

static int score_rows(model *m, const char *path, failure *f) {
    int from_stdin = strcmp(path, "-") == 0;
    FILE *fh = from_stdin ? stdin : fopen(path, "r");
    if (!fh)
        return fail(f, 2, "%s: cannot open the rows (%s). Pass a CSV file, or - for stdin.", path, strerror(errno));
    /* a series bundle's names are those of one step's C columns: a whole window's row has none */
    rowreader r = {.fh = fh, .name = path, .width = m->width, .names = m->nnames == m->width ? m->names : NULL};
    float *rows = malloc(BATCH * m->width * sizeof *rows), *scores = malloc(BATCH * sizeof *scores);
    float *pvalues = malloc(BATCH * sizeof *pvalues);
    unsigned char *labels = malloc(BATCH);
    const char *columns = m->p_name ? "score,label,p_value\n" : "score,label\n";
    int rc = rows && scores && pvalues && labels ? 0 : fail(f, 1, "out of memory");
    char err[sizeof f->msg];
    int header = 0;
    long n;
    while (rc == 0 && (n = rows_read(&r, rows, BATCH, err, sizeof err)) != 0) {
        if (n < 0) {
            rc = fail(f, 2, "%s", err);
            break;
        }
        if (!header++ && fputs(columns, stdout) < 0)
            rc = fail(f, 1, "-: cannot write the scores (%s)", strerror(errno));
        if (rc == 0 && (rc = model_decide(m, rows, (size_t)n, scores, labels, pvalues, f)) == 0)
            rc = write_scores(m, scores, labels, pvalues, (size_t)n, r.rows - n, f);
    }
    if (rc == 0 && !header && fputs(columns, stdout) < 0)
        rc = fail(f, 1, "-: cannot write the scores (%s)", strerror(errno));
    if (rc == 0 && fflush(stdout) != 0)
        rc = fail(f, 1, "-: cannot write the scores (%s)", strerror(errno));
    free(rows);
    free(scores);
    free(pvalues);
    free(labels);
    rows_free(&r);
    if (!from_stdin)
        fclose(fh);
    return rc;
}

/* One golden set: input_0.pb through the scorer, compared with output_0.pb. 1 = no such set. */
static int check_set(model *m, const char *dir, failure *f) {
    char in_path[4200], out_path[4200], err[512];
    snprintf(in_path, sizeof in_path, "%s/input_0.pb", dir);
    snprintf(out_path, sizeof out_path, "%s/output_0.pb", dir);
    struct stat st;
    if (lstat(dir, &st) != 0)
        return 1; /* no such set */
    if (!S_ISDIR(st.st_mode))
        return fail(f, 1, "%s: not a folder (a symbolic link is never followed: a bundle holds plain files). "
                    "Re-export the bundle.", dir);
    if (lstat(in_path, &st) != 0)
        return 1; /* lstat: a FIFO is never opened to find out */
    tensorpb in = {0}, out = {0};
    float *got = NULL;
    int rc = -1;
    if (tensorpb_read(in_path, &in, err, sizeof err) || tensorpb_read(out_path, &out, err, sizeof err)) {
        fail(f, 1, "%s: not a float32 TensorProto: %s. Re-export the bundle.", in.data ? out_path : in_path, err);
        goto done;
    }
    size_t rows = in.rank ? (size_t)in.dims[0] : 0;
    if (in.rank != m->rank || rows == 0 || in.count != rows * m->width || out.count != rows) {
        fail(f, 1, "%s: golden vectors of %zu rows and %zu scores do not fit the scorer (rows of %zu features, "
             "one score each). Re-export the bundle.", dir, rows, out.count, m->width);
        goto done;
    }
    got = malloc(rows * sizeof *got);
    if (!got || model_score(m, in.data, rows, got, f)) {
        if (!got)
            fail(f, 1, "out of memory");
        goto done;
    }
    double worst = 0;
    for (size_t i = 0; i < rows; i++) {
        double want = out.data[i], diff = fabs((double)got[i] - want);
        if (!(diff <= ATOL + RTOL * fabs(want))) {
            fail(f, 1, "%s: score %zu is %.9g, but the golden vector says %.9g (|diff| %.3g > atol %g + rtol %g * "
                 "|expected|): the graph or its golden vectors were modified. Re-export the bundle.",
                 out_path, i, (double)got[i], want, diff, ATOL, RTOL);
            goto done;
        }
        worst = diff > worst ? diff : worst;
    }
    printf("ok: %s: %zu rows, max abs diff %.3g\n", dir, rows, worst);
    rc = 0;
done:
    free(got);
    tensorpb_free(&in);
    tensorpb_free(&out);
    return rc;
}

static int check_golden(model *m, const char *bundle, failure *f) {
    char dir[4096];
    int sets = 0;
    const char *folders[] = {"test_data", "test_data/scorer"};
    for (size_t i = 0; i < sizeof folders / sizeof *folders; i++) {
        struct stat st;
        snprintf(dir, sizeof dir, "%s/%s", bundle, folders[i]);
        if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
            return fail(f, 1, "%s: not a folder (a symbolic link is never followed: a bundle holds plain files). "
                        "Re-export the bundle.", dir);
    }
    for (;; sets++) {
        snprintf(dir, sizeof dir, "%s/test_data/scorer/test_data_set_%d", bundle, sets);
        int rc = check_set(m, dir, f);
        if (rc < 0)
            return -1;
        if (rc == 1)
            break;
    }
    if (!sets)
        return fail(f, 1, "%s: no golden vectors (test_data/scorer/test_data_set_0/input_0.pb); expected a bundle "
                    "written by aeexport export. Re-export the bundle.", bundle);
    printf("checked %d golden vector sets of %s: all within atol %g + rtol %g\n", sets, m->graph, ATOL, RTOL);
    return fflush(stdout) == 0 ? 0 : fail(f, 1, "-: cannot write (%s)", strerror(errno));
}

static int stream_file(model *m, const char *path, failure *f) {
    int from_stdin = strcmp(path, "-") == 0;
    FILE *fh = from_stdin ? stdin : fopen(path, "r");
    if (!fh)
        return fail(f, 2, "%s: cannot open the rows (%s). Pass a CSV file, or - for stdin.", path, strerror(errno));
    int rc = stream_rows(m, fh, path, f);
    if (!from_stdin)
        fclose(fh);
    return rc;
}

/* "--threshold T" at the front of ARGV: T into *THRESHOLD, 2 arguments consumed; 0 without it, -1 when T is
 * not a finite number. */
static int threshold_option(int argc, char **argv, double *threshold) {
    if (argc < 2 || strcmp(argv[1], "--threshold") != 0)
        return 0;
    char *end = NULL;
    *threshold = argc > 2 ? strtod(argv[2], &end) : NAN;
    return end && end != argv[2] && !*end && isfinite(*threshold) ? 2 : -1;
}

int main(int argc, char **argv) {
    failure f = {0, ""};
    double threshold = 0;
    int shift = threshold_option(argc, argv, &threshold);
    if (shift < 0) {
        fprintf(stderr, "error: --threshold needs a finite number, got '%s'. %s\n", argc > 2 ? argv[2] : "", USAGE);
        return 2;
    }
    argc -= shift;
    argv += shift;
    int check = argc > 1 && strcmp(argv[1], "--check") == 0;
    int streaming = argc > 1 && strcmp(argv[1], "--stream") == 0;
    int flag = check || streaming;
    int nargs = argc - 1 - flag;
    if (nargs < 1 || nargs > (check ? 1 : 2) || argv[1 + flag][0] == '-') {
        fprintf(stderr, "error: %s\n", USAGE);
        return 2;
    }
    const char *bundle = argv[1 + flag], *rows = nargs == 2 ? argv[2 + flag] : "-";
    model m;
    int rc = model_open(&m, bundle, &f);
    if (rc == 0 && shift) {
        m.threshold = threshold; /* a score-only graph compares here; a decision graph is fed it */
        m.feed_threshold = 1;
    }
    if (rc == 0)
        rc = check ? check_golden(&m, bundle, &f) : streaming ? stream_file(&m, rows, &f) : score_rows(&m, rows, &f);
    model_close(&m);
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", f.msg);
        return f.code;
    }
    return 0;
}
