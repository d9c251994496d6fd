/* plot.c: see plot.h. Reading the CSV needs nothing; drawing needs cairo
 * (SOMA_HAVE_CAIRO), and without it plot_metrics_draw says how to get it. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "plot.h"

#ifdef SOMA_HAVE_CAIRO
#include <cairo.h>
#ifdef CAIRO_HAS_SVG_SURFACE
#include <cairo-svg.h>
#endif
#ifdef CAIRO_HAS_PDF_SURFACE
#include <cairo-pdf.h>
#endif
#endif

static int fail(char *err, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return 1;
}

/* ---- reading ----------------------------------------------------------------- */

enum { COL_EPOCH, COL_TRAIN_LOSS, COL_VAL_LOSS, COL_VAL_ACCURACY, COL_COUNT };
static const char *const column_names[COL_COUNT] = {"epoch", "train_loss", "val_loss", "val_accuracy"};

#define MAX_CELLS 64

/* Splits line in place at commas; trims blanks and the line end. */
static int split_cells(char *line, char **cells) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *start = p;
        while (*p && *p != ',' && *p != '\n' && *p != '\r') p++;
        char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        int last = *p != ',';
        *end = '\0';
        if (n < MAX_CELLS) cells[n] = start;
        n++;
        if (last) break;
        p++;
    }
    return n;
}

static int blank(const char *line) {
    while (*line && isspace((unsigned char)*line)) line++;
    return *line == '\0';
}

static int append_row(plot_metrics *m, const double *v) {
    if (m->rows == m->capacity) {
        int next = m->capacity ? 2 * m->capacity : 64;
        double **arrays[COL_COUNT] = {&m->epoch, &m->train_loss, &m->val_loss, &m->val_accuracy};
        for (int c = 0; c < COL_COUNT; c++) {
            double *grown = realloc(*arrays[c], (size_t)next * sizeof **arrays[c]);
            if (!grown) return 1;
            *arrays[c] = grown;
        }
        m->capacity = next;
    }
    m->epoch[m->rows] = v[COL_EPOCH];
    m->train_loss[m->rows] = v[COL_TRAIN_LOSS];
    m->val_loss[m->rows] = v[COL_VAL_LOSS];
    m->val_accuracy[m->rows] = v[COL_VAL_ACCURACY];
    m->rows++;
    return 0;
}

int plot_metrics_append(plot_metrics *m, double epoch, double train_loss, double val_loss,
                        double val_accuracy) {
    const double v[COL_COUNT] = {[COL_EPOCH] = epoch, [COL_TRAIN_LOSS] = train_loss,
                                 [COL_VAL_LOSS] = val_loss, [COL_VAL_ACCURACY] = val_accuracy};
    return append_row(m, v);
}

void plot_metrics_free(plot_metrics *m) {
    if (!m) return;
    free(m->epoch);
    free(m->train_loss);
    free(m->val_loss);
    free(m->val_accuracy);
    memset(m, 0, sizeof *m);
}

int plot_metrics_read(const char *path, plot_metrics *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    FILE *f;
    if (soma_file_fopen_input("reading the metrics", "", path, &f) != SOMA_OK) return fail(err, err_size, "%s", soma_last_error());
    char line[4096], header[4096] = "";
    char *cells[MAX_CELLS];
    int where[COL_COUNT], n_header = 0, line_no = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line_no++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = fail(err, err_size, "%s:%d: line longer than %zu bytes", path, line_no, sizeof line - 1);
            break;
        }
        if (blank(line)) continue;
        if (!n_header) { /* the header: find the columns by name */
            snprintf(header, sizeof header, "%s", line);
            n_header = split_cells(line, cells);
            if (n_header > MAX_CELLS) {
                rc = fail(err, err_size, "%s:%d: more than %d columns: not a metrics file from soma train --log",
                          path, line_no, MAX_CELLS);
                break;
            }
            for (int c = 0; c < COL_COUNT; c++) {
                where[c] = -1;
                for (int k = 0; k < n_header; k++)
                    if (strcmp(cells[k], column_names[c]) == 0) where[c] = k;
            }
            if (where[COL_EPOCH] < 0 || where[COL_TRAIN_LOSS] < 0)
                rc = fail(err, err_size,
                          "%s:%d: no 'epoch' and 'train_loss' columns: not a metrics file from soma train --log",
                          path, line_no);
            continue;
        }
        if (strcmp(line, header) == 0) continue; /* a header repeated by an appended log */
        int n = split_cells(line, cells);
        if (n != n_header) {
            rc = fail(err, err_size, "%s:%d: %d cells, but the header has %d", path, line_no, n, n_header);
            break;
        }
        double v[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++) {
            v[c] = NAN;
            if (where[c] < 0) continue;
            const char *cell = cells[where[c]];
            char *end;
            v[c] = strtod(cell, &end);
            if (end == cell || *end) {
                rc = fail(err, err_size, "%s:%d:%d: '%s' is not a number", path, line_no, where[c] + 1, cell);
                break;
            }
        }
        if (!rc && !isfinite(v[COL_EPOCH]))
            rc = fail(err, err_size, "%s:%d: the epoch is not a number", path, line_no);
        if (!rc && append_row(out, v)) rc = fail(err, err_size, "out of memory reading %s", path);
    }
    if (!rc && ferror(f)) rc = fail(err, err_size, "cannot read %s: %s", path, strerror(errno));
    if (!rc && out->rows == 0) rc = fail(err, err_size, "%s has no epochs to plot", path);
    fclose(f);
    if (rc) plot_metrics_free(out);
    return rc;
}

/* ---- drawing ------------------------------------------------------------------- */

#ifdef SOMA_HAVE_CAIRO

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)s[n - k + i]) != suffix[i]) return 0;
    return 1;
}

int plot_check_output(const char *path, char *err, size_t err_size) {
    if (ends_with(path, ".svg") || ends_with(path, ".png") || ends_with(path, ".pdf")) return 0;
    fail(err, err_size, "cannot tell the format of '%s': name it .svg, .png or .pdf", path);
    return 2;
}

#define FIG_W 960.0
#define FIG_H 420.0
#define PNG_SCALE 2.0 /* PNGs at twice the size, for high-density screens */
#define PI 3.14159265358979323846
#define MAX_TICKS 50 /* per axis; nice_range aims at about 6 */

typedef struct rgb {
    double r, g, b;
} rgb;

static const rgb train_color = {0.122, 0.467, 0.706}; /* blue */
static const rgb val_color = {0.890, 0.400, 0.055};   /* orange */
static const rgb axis_color = {0.20, 0.20, 0.20};
static const rgb grid_color = {0.88, 0.88, 0.88};
static const rgb best_color = {0.45, 0.45, 0.45};

typedef struct series {
    const double *x, *y;
    int n;
    rgb color;
} series;

typedef struct panel {
    double left, top, right, bottom; /* the plotting area, in figure units */
    double x0, x1, y0, y1;           /* data ranges */
} panel;

/* A "nice" number near x: 1, 2 or 5 times a power of ten. */
static double nice_number(double x, int round_it) {
    double exponent = floor(log10(x)), fraction = x / pow(10.0, exponent), nice;
    if (round_it)
        nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
    else
        nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
    return nice * pow(10.0, exponent);
}

/* Widens [*lo, *hi] to multiples of a nice step giving about `target` ticks. */
static double nice_range(double *lo, double *hi, int target) {
    double step = nice_number(nice_number(*hi - *lo, 0) / (target - 1), 1);
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

static double px(const panel *p, double x) {
    return p->left + (x - p->x0) / (p->x1 - p->x0) * (p->right - p->left);
}

static double py(const panel *p, double y) {
    return p->bottom - (y - p->y0) / (p->y1 - p->y0) * (p->bottom - p->top);
}

static void set_color(cairo_t *cr, rgb c) {
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

/* Text with its reference point at (x, y): ax, ay in [0, 1] place the point
 * on the text's line box (0, 0 = left, top; 0.5, 0.5 = centre). The box is
 * the font's ascent and descent, not the glyphs', so texts side by side share
 * a baseline. */
static void text_at(cairo_t *cr, double x, double y, double ax, double ay, const char *s) {
    cairo_text_extents_t e;
    cairo_font_extents_t f;
    cairo_text_extents(cr, s, &e);
    cairo_font_extents(cr, &f);
    cairo_move_to(cr, x - ax * e.x_advance, y + f.ascent - ay * (f.ascent + f.descent));
    cairo_show_text(cr, s);
}

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void format_tick(char *buf, size_t size, double v, double step) {
    int decimals = 0; /* as many as the step needs: 0.25 -> 2, 0.5 -> 1, 5 -> 0 */
    while (decimals < 12) {
        double scaled = step * pow(10.0, decimals);
        if (fabs(scaled - round(scaled)) < 1e-6 * scaled) break;
        decimals++;
    }
    if (fabs(v) < step * 1e-6) v = 0; /* no "-0.00" */
    snprintf(buf, size, "%.*f", decimals, v);
}

static void draw_axes(cairo_t *cr, const panel *p, double x_step, double y_step, const char *x_label,
                      const char *y_label, const char *title) {
    char buf[32];
    cairo_set_line_width(cr, 1.0);
    font(cr, 11, 0);
    for (int i = 0; y_step > 0 && i <= MAX_TICKS; i++) { /* grid and y ticks */
        double y = p->y0 + i * y_step;
        if (y > p->y1 + y_step * 1e-6) break;
        set_color(cr, grid_color);
        cairo_move_to(cr, p->left, py(p, y));
        cairo_line_to(cr, p->right, py(p, y));
        cairo_stroke(cr);
        set_color(cr, axis_color);
        cairo_move_to(cr, p->left - 4, py(p, y));
        cairo_line_to(cr, p->left, py(p, y));
        cairo_stroke(cr);
        format_tick(buf, sizeof buf, y, y_step);
        text_at(cr, p->left - 7, py(p, y), 1.0, 0.5, buf);
    }
    double first_x = ceil(p->x0 / x_step - 1e-9) * x_step;
    for (int i = 0; i <= MAX_TICKS; i++) {
        double x = first_x + i * x_step;
        if (x > p->x1 + 1e-9) break;
        set_color(cr, axis_color);
        cairo_move_to(cr, px(p, x), p->bottom);
        cairo_line_to(cr, px(p, x), p->bottom + 4);
        cairo_stroke(cr);
        format_tick(buf, sizeof buf, x, x_step);
        text_at(cr, px(p, x), p->bottom + 7, 0.5, 0.0, buf);
    }
    set_color(cr, axis_color);
    cairo_rectangle(cr, p->left, p->top, p->right - p->left, p->bottom - p->top);
    cairo_stroke(cr);
    font(cr, 12, 0);
    text_at(cr, (p->left + p->right) / 2, p->bottom + 26, 0.5, 0.0, x_label);
    cairo_save(cr);
    cairo_translate(cr, p->left - 50, (p->top + p->bottom) / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, 0.5, 0.5, y_label);
    cairo_restore(cr);
    font(cr, 13, 1);
    text_at(cr, (p->left + p->right) / 2, p->top - 8, 0.5, 1.0, title);
}

/* Lines between consecutive finite points, a dot on each point when they are few. */
static void draw_series(cairo_t *cr, const panel *p, const series *s) {
    set_color(cr, s->color);
    cairo_set_line_width(cr, 2.0);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    int drawing = 0;
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->y[i])) {
            drawing = 0;
            continue;
        }
        if (drawing)
            cairo_line_to(cr, px(p, s->x[i]), py(p, s->y[i]));
        else
            cairo_move_to(cr, px(p, s->x[i]), py(p, s->y[i]));
        drawing = 1;
    }
    cairo_stroke(cr);
    if (s->n > 60) return;
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->y[i])) {
            cairo_arc(cr, px(p, s->x[i]), py(p, s->y[i]), 3.0, 0, 2 * PI);
            cairo_fill(cr);
        }
}

static void draw_best(cairo_t *cr, const panel *p, double epoch) {
    static const double dash[] = {5.0, 4.0};
    set_color(cr, best_color);
    cairo_set_line_width(cr, 1.2);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, px(p, epoch), p->top);
    cairo_line_to(cr, px(p, epoch), p->bottom);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
}

/* The y range of the finite values of the series (0 when there are none). */
static int y_extent(const series *s, int n_series, double *lo, double *hi) {
    int any = 0;
    for (int k = 0; k < n_series; k++)
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i])) {
                if (!any || s[k].y[i] < *lo) *lo = s[k].y[i];
                if (!any || s[k].y[i] > *hi) *hi = s[k].y[i];
                any = 1;
            }
    return any;
}

/* y_max: the largest value the quantity can take (1 for accuracy, INFINITY for loss). */
static void draw_panel(cairo_t *cr, panel p, double x_step, const series *s, int n_series, double y_max,
                       const char *y_label, const char *title, double best_epoch, const char *empty) {
    double lo = 0, hi = 1;
    if (!y_extent(s, n_series, &lo, &hi)) {
        p.y0 = 0;
        p.y1 = 1;
        draw_axes(cr, &p, x_step, 0, "epoch", y_label, title);
        font(cr, 12, 0);
        set_color(cr, best_color);
        text_at(cr, (p.left + p.right) / 2, (p.top + p.bottom) / 2, 0.5, 0.5, empty);
        return;
    }
    if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) { /* a flat line: give it room */
        double pad = fabs(hi) > 0 ? fabs(hi) * 0.05 : 0.5;
        lo -= pad;
        hi += pad;
    }
    double margin = (hi - lo) * 0.04, data_lo = lo, data_hi = hi;
    lo -= margin;
    hi += margin;
    if (data_lo >= 0 && lo < 0) lo = 0; /* losses and accuracies are not negative */
    if (data_hi <= y_max && hi > y_max) hi = y_max;
    double y_step = nice_range(&lo, &hi, 6);
    p.y0 = lo;
    p.y1 = hi;
    draw_axes(cr, &p, x_step, y_step, "epoch", y_label, title);
    cairo_save(cr);
    cairo_rectangle(cr, p.left, p.top, p.right - p.left, p.bottom - p.top);
    cairo_clip(cr);
    if (isfinite(best_epoch)) draw_best(cr, &p, best_epoch);
    for (int k = 0; k < n_series; k++) draw_series(cr, &p, &s[k]);
    cairo_restore(cr);
}

/* One legend entry: a line sample (dashed for the best-epoch marker) and its text;
 * returns the x after it. */
static double legend_entry(cairo_t *cr, double x, double y, rgb color, int dashed, const char *label) {
    static const double dash[] = {5.0, 4.0};
    set_color(cr, color);
    cairo_set_line_width(cr, dashed ? 1.2 : 2.0);
    if (dashed) cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x + 24, y);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    set_color(cr, axis_color);
    text_at(cr, x + 30, y, 0.0, 0.5, label);
    cairo_text_extents_t e;
    cairo_text_extents(cr, label, &e);
    return x + 30 + e.x_advance + 22;
}

static double legend_width(cairo_t *cr, const char *const *labels, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, labels[i], &e);
        w += 30 + e.x_advance + 22;
    }
    return w - 22;
}

static void draw_figure(cairo_t *cr, const plot_metrics *m, const char *title) {
    set_color(cr, (rgb){1, 1, 1});
    cairo_paint(cr);

    double x0 = m->epoch[0], x1 = m->epoch[0];
    int best = -1;
    for (int i = 0; i < m->rows; i++) {
        x0 = fmin(x0, m->epoch[i]);
        x1 = fmax(x1, m->epoch[i]);
        if (isfinite(m->val_loss[i]) && (best < 0 || m->val_loss[i] < m->val_loss[best])) best = i;
    }
    if (x1 - x0 < 1) { /* one epoch */
        x0 -= 0.5;
        x1 += 0.5;
    }
    double x_step = fmax(1.0, nice_number(nice_number(x1 - x0, 0) / 8, 1));
    double x_pad = (x1 - x0) * 0.03; /* the first and last points clear the frame */
    x0 -= x_pad;
    x1 += x_pad;
    double best_epoch = best >= 0 ? m->epoch[best] : NAN;

    set_color(cr, axis_color);
    font(cr, 15, 1);
    text_at(cr, FIG_W / 2, 12, 0.5, 0.0, title);

    char best_label[64], last_label[160];
    snprintf(best_label, sizeof best_label, "lowest validation loss (epoch %g)", best_epoch);
    const char *labels[] = {"training", "validation", best_label};
    int n_labels = best >= 0 ? 3 : 1;
    font(cr, 12, 0);
    double x = FIG_W / 2 - legend_width(cr, labels, n_labels) / 2, y = 46;
    x = legend_entry(cr, x, y, train_color, 0, labels[0]);
    if (n_labels > 1) {
        x = legend_entry(cr, x, y, val_color, 0, labels[1]);
        legend_entry(cr, x, y, best_color, 1, labels[2]);
    }

    int last = m->rows - 1;
    snprintf(last_label, sizeof last_label, "last epoch: training loss %.4f", m->train_loss[last]);
    if (isfinite(m->val_loss[last]))
        snprintf(last_label + strlen(last_label), sizeof last_label - strlen(last_label),
                 ", validation loss %.4f", m->val_loss[last]);
    if (isfinite(m->val_accuracy[last]))
        snprintf(last_label + strlen(last_label), sizeof last_label - strlen(last_label),
                 ", validation accuracy %.4f", m->val_accuracy[last]);
    font(cr, 11, 0);
    set_color(cr, best_color);
    text_at(cr, FIG_W / 2, FIG_H - 10, 0.5, 1.0, last_label);

    double top = 90, bottom = FIG_H - 78;
    panel loss = {.left = 80, .top = top, .right = FIG_W / 2 - 24, .bottom = bottom, .x0 = x0, .x1 = x1};
    panel acc = {.left = FIG_W / 2 + 80, .top = top, .right = FIG_W - 24, .bottom = bottom, .x0 = x0, .x1 = x1};
    series loss_series[] = {{m->epoch, m->train_loss, m->rows, train_color},
                            {m->epoch, m->val_loss, m->rows, val_color}};
    series acc_series[] = {{m->epoch, m->val_accuracy, m->rows, val_color}};
    draw_panel(cr, loss, x_step, loss_series, 2, INFINITY, "loss", "loss", best_epoch, "no loss values");
    draw_panel(cr, acc, x_step, acc_series, 1, 1.0, "accuracy", "validation accuracy", best_epoch,
               "no validation accuracy (regression, or no validation data)");
}

/* Cairo writes into memory; the file is written in one go afterwards, so a
 * failure leaves no half-written figure and has a plain reason. */
typedef struct memory {
    unsigned char *data;
    size_t len, cap;
    int failed;
} memory;

static cairo_status_t to_memory(void *closure, const unsigned char *data, unsigned int length) {
    memory *mem = closure;
    if (mem->len + length > mem->cap) {
        size_t cap = mem->cap ? mem->cap : 65536;
        while (cap < mem->len + length) cap *= 2;
        unsigned char *grown = realloc(mem->data, cap);
        if (!grown) {
            mem->failed = 1;
            return CAIRO_STATUS_NO_MEMORY;
        }
        mem->data = grown;
        mem->cap = cap;
    }
    memcpy(mem->data + mem->len, data, length);
    mem->len += length;
    return CAIRO_STATUS_SUCCESS;
}

/* Replaced whole, crash-safe (io/files.h): a failed write leaves the old figure. */
static int write_file(const char *path, const memory *mem, char *err, size_t err_size) {
    soma_output out;
    soma_status st = soma_output_open("plot", path, &out);
    if (st == SOMA_OK && (st = soma_output_write(&out, mem->data, mem->len)) != SOMA_OK) soma_output_abort(&out);
    else if (st == SOMA_OK) st = soma_output_commit(&out);
    if (st != SOMA_OK) return fail(err, err_size, "%s", soma_last_error());
    return 0;
}

int plot_metrics_draw(const plot_metrics *m, const char *title, const char *path, char *err,
                      size_t err_size) {
    if (plot_check_output(path, err, err_size)) return 1;
    enum { SVG, PNG, PDF } kind = ends_with(path, ".svg") ? SVG : ends_with(path, ".png") ? PNG : PDF;
    if (m->rows < 1) return fail(err, err_size, "no epochs to plot");

    memory mem = {0};
    cairo_surface_t *surface = NULL;
    switch (kind) {
    case SVG:
#ifdef CAIRO_HAS_SVG_SURFACE
        surface = cairo_svg_surface_create_for_stream(to_memory, &mem, FIG_W, FIG_H);
#endif
        break;
    case PDF:
#ifdef CAIRO_HAS_PDF_SURFACE
        surface = cairo_pdf_surface_create_for_stream(to_memory, &mem, FIG_W, FIG_H);
#endif
        break;
    case PNG:
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)(FIG_W * PNG_SCALE),
                                             (int)(FIG_H * PNG_SCALE));
        break;
    }
    if (!surface) return fail(err, err_size, "this cairo cannot write %s files", kind == SVG ? "SVG" : "PDF");
    cairo_t *cr = cairo_create(surface);
    if (kind == PNG) cairo_scale(cr, PNG_SCALE, PNG_SCALE);
    draw_figure(cr, m, title);
    cairo_status_t status = cairo_status(cr);
    cairo_destroy(cr);
    if (status == CAIRO_STATUS_SUCCESS && kind == PNG) status = cairo_surface_write_to_png_stream(surface, to_memory, &mem);
    cairo_surface_finish(surface);
    if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    /* No cairo object is alive now: drop cairo's font caches, so that the
     * process ends without them (leak checkers count them as lost). */
    cairo_debug_reset_static_data();
    int rc = 0;
    if (status != CAIRO_STATUS_SUCCESS || mem.failed)
        rc = fail(err, err_size, "cannot draw %s: %s", path,
                  mem.failed ? "out of memory" : cairo_status_to_string(status));
    else
        rc = write_file(path, &mem, err, err_size);
    free(mem.data);
    return rc;
}

#else /* no cairo */

int plot_check_output(const char *path, char *err, size_t err_size) {
    (void)path;
    fail(err, err_size, "soma was built without cairo: apt-get install libcairo2-dev and rebuild");
    return 1;
}

int plot_metrics_draw(const plot_metrics *m, const char *title, const char *path, char *err,
                      size_t err_size) {
    (void)m;
    (void)title;
    return plot_check_output(path, err, err_size);
}

#endif

int plot_metrics_file(const char *command, const char *csv_path, const char *out_path, const char *title) {
    char err[512];
    int rc = plot_check_output(out_path, err, sizeof err); /* before reading anything */
    if (rc) {
        fprintf(stderr, "soma %s: %s\n", command, err);
        return rc;
    }
    plot_metrics m;
    if (plot_metrics_read(csv_path, &m, err, sizeof err)) {
        fprintf(stderr, "soma %s: %s\n", command, err);
        return 1;
    }
    const char *base = strrchr(csv_path, '/');
    base = base ? base + 1 : csv_path;
    char *default_title = malloc(strlen(base) + 32); /* the file's whole name, however long */
    if (!title && default_title) sprintf(default_title, "training curves: %s", base);
    rc = title || default_title ? plot_metrics_draw(&m, title ? title : default_title, out_path, err, sizeof err)
                                : fail(err, sizeof err, "out of memory");
    if (rc) fprintf(stderr, "soma %s: %s\n", command, err);
    free(default_title);
    plot_metrics_free(&m);
    return rc;
}
