/* CSV rows for the model: one row per line, comma-separated float32 values, header optional. */
#ifndef AESCORE_ROWS_H
#define AESCORE_ROWS_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *fh;
    const char *name;          /* the path as the user gave it, "-" for stdin (messages) */
    size_t width;              /* features per row */
    char *const *names;        /* the bundle's feature names (width of them), or NULL */
    char *line;                /* getline buffer (grows only for a line longer than any before) */
    char **fields;             /* width + 1 field pointers, allocated by the first read */
    size_t cap;
    long lineno;               /* lines read so far */
    long rows;                 /* data rows read so far */
    int started;               /* the first non-empty line has been seen */
} rowreader;

/* Reads up to MAX rows into OUT (MAX * width floats). Returns the number read (0 at the end),
 * or -1 with a one-line message in ERR: the user's rows do not fit the model. */
long rows_read(rowreader *r, float *out, long max, char *err, size_t errlen);
void rows_free(rowreader *r);

#endif
