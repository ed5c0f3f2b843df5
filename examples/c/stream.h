/* aescore --stream: a series bundle's per-step scores of rows read one at a time (a sensor feed). */
#ifndef AESCORE_STREAM_H
#define AESCORE_STREAM_H

#include <stdio.h>

#include "model.h"

/* Reads rows of the bundle's C columns from IN (named NAME in messages) one line at a time and writes one
 * "score,label[,p_value],alarm" line per row to stdout as it arrives (flushed), after a header line. The
 * score of row t is the window of rows t-W+1 .. t (docs/bundle-format.md section 11); the first W-1 rows are
 * the warm-up: score nan, label 0 (p_value nan). alarm: k of the last n labels, then hold_off quiet steps
 * (aeruntime.series.alarm). Memory is allocated once at start-up. A refused row stops the stream: 0, or -1
 * with F set (code 2: the row, naming its index in the stream, counted from 0). */
int stream_rows(model *m, FILE *in, const char *name, failure *f);

#endif
