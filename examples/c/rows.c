/* CSV rows: the first non-empty line is a header when a field is not a number (then it must
 * equal the bundle's feature names), or when it is all numbers equal to those names; otherwise
 * it is data. Blank lines are skipped. Every value must be a finite number within the float32
 * range. Messages name the file, the line, the row and the column, and say how to fix it. */
#define _POSIX_C_SOURCE 200809L
#include "rows.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define FINITE_FIX "the model expects finite numbers (no NaN or infinite values). Impute or drop those rows first."

/* Strips spaces around [*s, *e). */
static void strip(const char **s, const char **e) {
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* Splits LINE at commas in place: FIELDS[i] points into LINE (stripped, NUL-terminated). */
static size_t split(char *line, char **fields, size_t max) {
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        const char *s = p, *e = end;
        strip(&s, &e);
        if (n < max)
            fields[n] = (char *)s;
        n++;
        *(char *)e = '\0';
        if (!comma)
            return n;
        p = comma + 1;
    }
}

static int parse_number(const char *s, double *v) {
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end ? -1 : 0;
}

static void column(const rowreader *r, size_t j, char *buf, size_t len) {
    if (r->names)
        snprintf(buf, len, "column '%s'", r->names[j]);
    else
        snprintf(buf, len, "column %zu", j + 1); /* counted from 1, as aeruntime does */
}

static int bad_value(const rowreader *r, size_t j, const char *cell, double v, char *err, size_t errlen) {
    char col[160];
    column(r, j, col, sizeof col);
    if (!*cell)
        snprintf(err, errlen, "%s: missing value in %s, line %ld; every feature needs a number. Impute or drop that row first.",
                 r->name, col, r->lineno);
    else if (isnan(v) || isinf(v))
        snprintf(err, errlen, "%s: line %ld (row %ld), %s holds %s; " FINITE_FIX, r->name, r->lineno, r->rows, col,
                 isnan(v) ? "a NaN" : "an infinite value");
    else if (fabs(v) > FLT_MAX)
        snprintf(err, errlen,
                 "%s: line %ld (row %ld), %s holds %.17g, a value beyond the float32 range (about 3.4e38); "
                 "the model expects values within the float32 range. Rescale that column or drop the row first.",
                 r->name, r->lineno, r->rows, col, v);
    else
        snprintf(err, errlen, "%s: expected numeric values in every column, but %s on line %ld holds '%.40s'. "
                 "Drop or encode non-numeric columns first.", r->name, col, r->lineno, cell);
    return -1;
}

static int width_error(const rowreader *r, size_t n, char *err, size_t errlen) {
    if (r->started)
        snprintf(err, errlen, "%s: line %ld has %zu fields, but the model expects %zu. Fix the malformed line.", r->name,
                 r->lineno, n, r->width);
    else
        snprintf(err, errlen, "%s has %zu features, but the model expects %zu. Pass rows of %zu comma-separated numbers "
                 "in the bundle's feature order.", r->name, n, r->width, r->width);
    return -1;
}

/* The first non-empty line: 1 = a header (checked), 0 = data, -1 = an error. */
static int header(const rowreader *r, char **fields, size_t n, char *err, size_t errlen) {
    int numeric = 1, same = r->names != NULL;
    for (size_t j = 0; j < n; j++) {
        double v;
        if (*fields[j] && parse_number(fields[j], &v))
            numeric = 0;
        if (same && strcmp(fields[j], r->names[j]) != 0)
            same = 0;
    }
    if (numeric)
        return same;
    for (size_t j = 0; r->names && j < n; j++)
        if (strcmp(fields[j], r->names[j]) != 0) {
            snprintf(err, errlen, "%s: the header's column %zu is '%.80s', but the bundle's feature %zu is '%.80s'. "
                     "Write the header with the bundle's feature names in their order, or drop the header line.",
                     r->name, j + 1, fields[j], j + 1, r->names[j]);
            return -1;
        }
    return 1;
}

/* One line into ROW: 1 = a row, 0 = skipped (blank or the header), -1 = an error. */
static int parse_line(rowreader *r, float *row, char *err, size_t errlen) {
    if (!r->fields && !(r->fields = malloc((r->width + 1) * sizeof *r->fields))) { /* once: no allocation per row */
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char **fields = r->fields;
    size_t n = split(r->line, fields, r->width + 1);
    if (n == 1 && !*fields[0])
        return 0; /* a blank line */
    int rc = 1;
    if (n != r->width)
        rc = width_error(r, n, err, errlen);
    else if (!r->started) {
        int h = header(r, fields, n, err, errlen);
        rc = h < 0 ? -1 : h ? 0 : 1;
    }
    r->started = 1;
    for (size_t j = 0; rc == 1 && j < n; j++) {
        double v = 0;
        if (parse_number(fields[j], &v) || !isfinite(v) || fabs(v) > FLT_MAX)
            rc = bad_value(r, j, fields[j], v, err, errlen);
        else
            row[j] = (float)v;
    }
    return rc;
}

long rows_read(rowreader *r, float *out, long max, char *err, size_t errlen) {
    long got = 0;
    while (got < max) {
        ssize_t len = getline(&r->line, &r->cap, r->fh);
        if (len < 0) {
            if (ferror(r->fh)) {
                snprintf(err, errlen, "%s: a read error (%s)", r->name, strerror(errno));
                return -1;
            }
            break;
        }
        r->lineno++;
        if (strlen(r->line) != (size_t)len) {
            snprintf(err, errlen, "%s: line %ld holds a NUL byte; expected comma-separated numbers.", r->name, r->lineno);
            return -1;
        }
        int rc = parse_line(r, out + (size_t)got * r->width, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            got++;
            r->rows++;
        }
    }
    return got;
}

void rows_free(rowreader *r) {
    free(r->line);
    free(r->fields);
    r->line = NULL;
    r->fields = NULL;
}
