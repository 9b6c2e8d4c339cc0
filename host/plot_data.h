/* What the plot mode reads: the lines of metrics.jsonl (flat JSON objects)
 * and float arrays of samples.npz. */
#ifndef FIVO_HOST_PLOT_DATA_H
#define FIVO_HOST_PLOT_DATA_H

#include <stdint.h>

#include <fivo/error.h>

/* One value of a flat JSON object: a number (null reads as NaN), a string,
 * or a boolean (as 0/1 with is_string false). */
typedef struct fivo_plot_field {
    char *name;
    char *string; /* NULL for numbers */
    double number;
} fivo_plot_field;

typedef struct fivo_plot_line {
    fivo_plot_field *fields;
    int count;
} fivo_plot_line;

typedef struct fivo_plot_metrics {
    fivo_plot_line *lines;
    int count;
} fivo_plot_metrics;

/* Reads every line of path; a line that is not a flat JSON object is an
 * error naming the file and line (a torn last line is skipped). */
fivo_status fivo_plot_read_metrics(const char *path, fivo_plot_metrics *out, fivo_error *err);
void fivo_plot_metrics_free(fivo_plot_metrics *m);
const char *fivo_plot_string(const fivo_plot_line *l, const char *name);
/* 1 and *out when `name` is a number (or null: NaN), else 0. */
int fivo_plot_number(const fivo_plot_line *l, const char *name, double *out);

typedef struct fivo_plot_array {
    int ndim;
    int64_t shape[8];
    float *data; /* C order */
} fivo_plot_array;

/* Array `name` of an .npz (a stored zip of .npy members, as fivo and
 * numpy.savez write them; float32 or float64, C order, little-endian). */
fivo_status fivo_plot_read_npz(const char *path, const char *name, fivo_plot_array *out,
                               fivo_error *err);

#endif
