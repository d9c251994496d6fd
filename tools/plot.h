/* plot.h: training curves from a metrics CSV, drawn with cairo.
 *
 * The CSV is what `soma train --log` writes:
 *   epoch,train_loss,val_loss,val_accuracy,lr,seconds
 * (columns are found by name; "nan" marks a missing value, as in a run
 * without validation data). The figure has two panels side by side: loss
 * (training and validation) and validation accuracy, per epoch, with the
 * epoch of the lowest validation loss marked, so over-fitting (training loss
 * still falling, validation loss rising) shows at a glance. The output format
 * follows the file name: .svg, .png or .pdf. */
#ifndef SOMA_TOOLS_PLOT_H
#define SOMA_TOOLS_PLOT_H

#include <stddef.h>

typedef struct plot_metrics {
    int rows, capacity;
    double *epoch, *train_loss, *val_loss, *val_accuracy; /* rows values each; NaN = missing */
} plot_metrics;

/* Reads a metrics CSV. Returns 0, or 1 with a one-line reason in err
 * (file, line and column when the file is malformed). */
int plot_metrics_read(const char *path, plot_metrics *out, char *err, size_t err_size);
void plot_metrics_free(plot_metrics *m);

/* Adds one epoch to m (start from plot_metrics m = {0}), for a caller that has
 * the numbers in hand rather than in a file. Returns 0, or 1 when out of
 * memory. */
int plot_metrics_append(plot_metrics *m, double epoch, double train_loss, double val_loss,
                        double val_accuracy);

/* Draws m into path (.svg, .png or .pdf) under the given title. Returns 0, or
 * 1 with a one-line reason in err (unknown extension, cannot write, soma
 * built without cairo). */
int plot_metrics_draw(const plot_metrics *m, const char *title, const char *path, char *err,
                      size_t err_size);

/* Whether a figure can be written to path: returns 0 when soma was built
 * with cairo and the name ends in .svg, .png or .pdf; otherwise an exit code
 * with the reason in err: 1 without cairo ("soma was built without cairo:
 * apt-get install libcairo2-dev and rebuild"), 2 for another extension.
 * A command that plots after a long run (soma train --plot) asks this first. */
int plot_check_output(const char *path, char *err, size_t err_size);

/* Reads csv_path and draws it into out_path under title (NULL: "training
 * curves: <CSV file name>"); prints "soma <command>: <reason>" on failure.
 * Returns the exit code: 0, 1 (no cairo, unreadable CSV, cannot write) or 2
 * (unknown extension). This is what `soma plot` does, and what a
 * `soma train --plot` calls after training. */
int plot_metrics_file(const char *command, const char *csv_path, const char *out_path, const char *title);

#endif
