/* model_cmds.c: `soma eval`, `soma predict` and `soma summary`: what to do
 * with a saved model. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "data_spec.h"
#include "file_guard.h"
#include "io/files.h"
#include "labels.h"
#include "options.h"
#include "soma/checkpoint.h"
#include "soma.h"

/* A checkpoint loaded onto a device, with its data when asked for. */
typedef struct loaded {
    soma_device *dev;
    soma_mlp *model;
    soma_checkpoint_info info;
    data_spec spec;
    data_source src;
} loaded;

static void loaded_free(loaded *l) {
    data_source_free(&l->src);
    data_spec_free(&l->spec);
    soma_checkpoint_info_free(&l->info);
    soma_mlp_free(l->model);
    soma_device_close(l->dev);
}

/* The files of a command: --model and the data in, output (may be NULL)
 * out; no output over an input, every output writable (file_guard.h). */
static int check_files(const char *command, const char *model_path, const data_spec *spec, const char *output) {
    file_guard g;
    memset(&g, 0, sizeof g);
    guard_input(&g, "--model", model_path);
    char *files[2];
    int n = spec ? data_spec_files(spec, DATA_TEST, files) : 0;
    for (int i = 0; i < n; i++) {
        guard_input(&g, "--data", files[i]);
        free(files[i]);
    }
    guard_output(&g, "--output", output, 0);
    int code = guard_check(&g, command);
    guard_free(&g);
    return code;
}

/* Loads --model on --device and, when data is not NULL, the data (the test
 * part for mnist), normalized as the model was trained. output: the file the
 * command will write, checked with the inputs before anything is loaded. */
static int load(const char *command, const char *model_path, const char *device, const char *data,
                const char *output, loaded *l) {
    memset(l, 0, sizeof *l);
    if (!model_path) {
        fprintf(stderr, "soma %s: --model is required\n", command);
        return 2;
    }
    int code = data ? data_spec_parse(command, data, &l->spec) : 0;
    if (!code) code = check_files(command, model_path, data ? &l->spec : NULL, output);
    if (code) return code;
    if (soma_device_open(device, &l->dev) != SOMA_OK ||
        soma_checkpoint_load(model_path, l->dev, &l->model, &l->info) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
        return 1;
    }
    if (!data) return 0;
    if (data_spec_load(command, &l->spec, DATA_TEST, &l->src)) return 1;
    /* predict on rows without a label: a CSV with as many columns as the
     * model has inputs is features only (label= given says otherwise) */
    if (strcmp(command, "predict") == 0 && l->spec.kind == DATA_CSV && !l->spec.label &&
        soma_dataset_features(l->src.data) + 1 == soma_mlp_inputs(l->model) &&
        data_source_all_features(command, &l->src))
        return 1;
    /* named labels: the model's numbering of the names */
    if (labels_to_model(command, l->src.data, model_path, l->info.class_names, l->info.n_class_names)) return 1;
    if (soma_dataset_features(l->src.data) != soma_mlp_inputs(l->model)) {
        fprintf(stderr, "soma %s: the data has %lld features but the model takes %lld inputs\n", command,
                (long long)soma_dataset_features(l->src.data), (long long)soma_mlp_inputs(l->model));
        return 1;
    }
    if (l->info.normalizer.kind != SOMA_NORM_NONE &&
        soma_normalizer_apply(&l->info.normalizer, l->src.data) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
        return 1;
    }
    return 0;
}

/* Regression quality over every output column: mean squared and absolute
 * error, and R^2 = 1 - sum((y - o)^2) / sum((y - mean_j(y))^2) (NaN when the
 * targets are constant). */
typedef struct regression {
    double mse, rmse, mae, r2;
} regression;

static int regression_metrics(const char *command, soma_mlp *m, const soma_normalizer *target_norm,
                              const soma_dataset *ds, regression *r) {
    int64_t rows = soma_dataset_rows(ds), cols = soma_mlp_outputs(m);
    if (soma_dataset_targets(ds) != cols) {
        fprintf(stderr, "soma %s: the data has %lld target columns but the model has %lld outputs\n", command,
                (long long)soma_dataset_targets(ds), (long long)cols);
        return 1;
    }
    float *out = malloc((size_t)(rows * cols) * sizeof *out);
    double *mean = calloc((size_t)cols, sizeof *mean);
    /* outputs in the targets' units (the data's targets were never standardized) */
    if (!out || !mean || soma_predict(m, ds, out) != SOMA_OK ||
        soma_target_normalizer_undo(target_norm, out, rows) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, out && mean ? soma_last_error() : "out of memory");
        free(out);
        free(mean);
        return 1;
    }
    const float *y = soma_dataset_target_data_const(ds);
    for (int64_t i = 0; i < rows * cols; i++) mean[i % cols] += (double)y[i] / (double)rows;
    double sq = 0.0, abs_err = 0.0, total = 0.0;
    for (int64_t i = 0; i < rows * cols; i++) {
        double e = (double)out[i] - (double)y[i], d = (double)y[i] - mean[i % cols];
        sq += e * e;
        abs_err += fabs(e);
        total += d * d;
    }
    double n = (double)(rows * cols);
    *r = (regression){.mse = sq / n, .rmse = sqrt(sq / n), .mae = abs_err / n, .r2 = total > 0 ? 1.0 - sq / total : NAN};
    free(out);
    free(mean);
    return 0;
}

/* eval --confusion: counts[t * classes + p] rows of true class t predicted
 * as p (argmax, or logit > 0 for one BCE output). */
typedef struct confusion {
    int64_t classes;
    int64_t *counts;
    const char *const *names; /* the model's class names (n_names of them), or NULL: indices */
    int64_t n_names;
} confusion;

static int confusion_matrix(const char *command, soma_mlp *m, const soma_dataset *ds, soma_loss loss, confusion *c) {
    int64_t rows = soma_dataset_rows(ds), outputs = soma_mlp_outputs(m);
    c->counts = NULL;
    c->classes = outputs == 1 ? 2 : outputs;
    if ((loss != SOMA_LOSS_XENT && loss != SOMA_LOSS_BCE) || soma_dataset_targets(ds) != 1) {
        fprintf(stderr, "soma %s: --confusion needs a classifier with one label column (loss %s, %lld target columns)\n",
                command, soma_loss_name(loss), (long long)soma_dataset_targets(ds));
        return 2;
    }
    float *out = malloc((size_t)(rows * outputs) * sizeof *out);
    c->counts = calloc((size_t)(c->classes * c->classes), sizeof *c->counts);
    if (!out || !c->counts || soma_predict(m, ds, out) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, out && c->counts ? soma_last_error() : "out of memory");
        free(out);
        return 1;
    }
    const float *y = soma_dataset_target_data_const(ds);
    for (int64_t i = 0; i < rows; i++) {
        const float *o = out + i * outputs;
        int64_t predicted = 0;
        if (outputs == 1) predicted = o[0] > 0.0f;
        else
            for (int64_t j = 1; j < outputs; j++)
                if (o[j] > o[predicted]) predicted = j;
        /* the targets are class indices (soma_evaluate checked them) */
        int64_t truth = (int64_t)y[i];
        if (!(y[i] >= 0 && (float)truth == y[i] && truth < c->classes)) {
            fprintf(stderr, "soma %s: row %lld: label %g is not a class of this model (0 to %lld)\n", command,
                    (long long)soma_dataset_source_row(ds, i), (double)y[i], (long long)(c->classes - 1));
            free(out);
            return 1;
        }
        c->counts[truth * c->classes + predicted]++;
    }
    free(out);
    return 0;
}

/* Per class k: precision = TP / (TP + FP) (rows predicted k that are k),
 * recall = TP / (TP + FN) (rows of k predicted k), F1 = their harmonic mean;
 * NaN where a denominator is 0. */
static void class_scores(const confusion *c, int64_t k, double *precision, double *recall, double *f1,
                         int64_t *support) {
    int64_t tp = c->counts[k * c->classes + k], predicted = 0, actual = 0;
    for (int64_t j = 0; j < c->classes; j++) {
        predicted += c->counts[j * c->classes + k];
        actual += c->counts[k * c->classes + j];
    }
    *precision = predicted ? (double)tp / (double)predicted : NAN;
    *recall = actual ? (double)tp / (double)actual : NAN;
    *f1 = *precision + *recall > 0 ? 2 * *precision * *recall / (*precision + *recall) : NAN;
    *support = actual;
}

/* Class k's label in the text table: its name when the model has one
 * (cut to the column width), else its index. */
static const char *class_label(const confusion *c, int64_t k, char *buf, size_t size) {
    if (k < c->n_names) snprintf(buf, size, "%s", c->names[k]);
    else snprintf(buf, size, "%lld", (long long)k);
    return buf;
}

static void print_confusion_text(const confusion *c) {
    /* columns as wide as the longest name (7 at least, 20 at most: longer names are cut) */
    int width = 7;
    for (int64_t k = 0; k < c->n_names && k < c->classes; k++) {
        int len = (int)strlen(c->names[k]);
        width = len > width ? (len < 20 ? len : 20) : width;
    }
    char label[21];
    printf("confusion (rows: true class, columns: predicted)\n%*s", width, "");
    for (int64_t p = 0; p < c->classes; p++) printf(" %*s", width, class_label(c, p, label, (size_t)width + 1));
    printf("\n");
    for (int64_t t = 0; t < c->classes; t++) {
        printf("%-*s", width, class_label(c, t, label, (size_t)width + 1));
        for (int64_t p = 0; p < c->classes; p++) printf(" %*lld", width, (long long)c->counts[t * c->classes + p]);
        printf("\n");
    }
    printf("%-*s precision  recall     f1         support\n", width, "class");
    for (int64_t k = 0; k < c->classes; k++) {
        double precision, recall, f1;
        int64_t support;
        class_scores(c, k, &precision, &recall, &f1, &support);
        printf("%-*s %-10.4f %-10.4f %-10.4f %lld\n", width, class_label(c, k, label, (size_t)width + 1), precision,
               recall, f1, (long long)support);
    }
}

static void print_confusion_json(const confusion *c) {
    printf(", \"confusion\": [");
    for (int64_t t = 0; t < c->classes; t++) {
        printf("%s[", t ? ", " : "");
        for (int64_t p = 0; p < c->classes; p++)
            printf("%s%lld", p ? ", " : "", (long long)c->counts[t * c->classes + p]);
        printf("]");
    }
    printf("], \"per_class\": [");
    for (int64_t k = 0; k < c->classes; k++) {
        double precision, recall, f1;
        int64_t support;
        class_scores(c, k, &precision, &recall, &f1, &support);
        printf("%s{\"class\": ", k ? ", " : "");
        if (k < c->n_names) cli_json_string(stdout, c->names[k]); /* as predict --json names it */
        else printf("%lld", (long long)k);
        printf(", \"precision\": ");
        cli_json_number(stdout, precision);
        printf(", \"recall\": ");
        cli_json_number(stdout, recall);
        printf(", \"f1\": ");
        cli_json_number(stdout, f1);
        printf(", \"support\": %lld}", (long long)support);
    }
    printf("]");
}

/* JSON has no NaN: null */
static void json_number(char *buf, size_t size, double v) {
    snprintf(buf, size, isfinite(v) ? "%.9g" : "null", v);
}

int soma_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *device = "auto";
    int json = 0, with_confusion = 0;
    int64_t threads = 0;
    const option opts[] = {
        {"--model", OPT_STRING, &model, "checkpoint to evaluate"},
        {"--data", OPT_STRING, &data, "mnist (its test set), csv:PATH[,label=COL], idx:IMAGES,LABELS, npy:X,Y, npz:PATH"},
        {"--device", OPT_STRING, &device, "auto, cpu, cuda or cuda:N (auto)"},
        {"--json", OPT_FLAG, &json, "print one JSON object"},
        {"--threads", OPT_INT, &threads, "CPU threads (default: OMP_NUM_THREADS, else one per core)"},
        {"--confusion", OPT_FLAG, &with_confusion, "also the confusion matrix and per-class precision, recall, F1"},
    };
    const char *synopsis = "soma eval --model FILE --data SPEC [--device D] [--json] [--confusion]";
    int code = options_parse("eval", synopsis, argc, argv, opts, sizeof opts / sizeof opts[0], NULL);
    if (code) return code < 0 ? 0 : code;
    if ((code = cli_set_threads("eval", threads))) return code;
    if (!data) {
        fprintf(stderr, "soma eval: --data is required\n");
        return 2;
    }
    loaded l;
    code = load("eval", model, device, data, NULL, &l);
    double loss = NAN, accuracy = NAN;
    if (!code && soma_evaluate(l.model, l.src.data, l.info.loss, &loss, &accuracy) != SOMA_OK) {
        fprintf(stderr, "soma eval: %s\n", soma_last_error());
        code = 1;
    }
    /* a regression model: its errors and R^2 rather than an accuracy it has not */
    regression r = {NAN, NAN, NAN, NAN};
    int is_regression = !code && isnan(accuracy) && l.info.loss == SOMA_LOSS_MSE;
    if (is_regression) code = regression_metrics("eval", l.model, &l.info.target_normalizer, l.src.data, &r);
    /* soma_evaluate compared standardized outputs with the file's targets: the loss in the targets' units is
     * the mean squared error, 1/N sum (o - y)^2 as the mse loss defines it */
    if (is_regression && !code && l.info.target_normalizer.kind != SOMA_NORM_NONE) loss = r.mse;
    confusion cm = {0, NULL, NULL, 0};
    if (!code && with_confusion) code = confusion_matrix("eval", l.model, l.src.data, l.info.loss, &cm);
    if (!code && with_confusion) cm.names = l.info.class_names, cm.n_names = l.info.n_class_names;
    long long rows = code ? 0 : (long long)soma_dataset_rows(l.src.data);
    if (!code && json) {
        char loss_text[32], accuracy_text[32], mse[32], rmse[32], mae[32], r2[32];
        json_number(loss_text, sizeof loss_text, loss);
        json_number(accuracy_text, sizeof accuracy_text, accuracy);
        printf("{\"loss\": %s, \"accuracy\": %s, \"rows\": %lld, \"loss_kind\": \"%s\"", loss_text,
               accuracy_text, rows, soma_loss_name(l.info.loss));
        if (is_regression) {
            json_number(mse, sizeof mse, r.mse);
            json_number(rmse, sizeof rmse, r.rmse);
            json_number(mae, sizeof mae, r.mae);
            json_number(r2, sizeof r2, r.r2);
            printf(", \"mse\": %s, \"rmse\": %s, \"mae\": %s, \"r2\": %s", mse, rmse, mae, r2);
        }
        if (cm.counts) print_confusion_json(&cm);
        printf("}\n");
    } else if (!code && is_regression) {
        printf("%s: %lld rows  mse %.6g  rmse %.6g  mae %.6g  r2 %.4f\n", l.src.name, rows, r.mse, r.rmse, r.mae, r.r2);
    } else if (!code) {
        printf("%s: %lld rows  loss %.4f", l.src.name, rows, loss);
        if (!isnan(accuracy)) printf("  accuracy %.4f", accuracy);
        printf("\n");
        if (cm.counts) print_confusion_text(&cm);
    }
    free(cm.counts);
    loaded_free(&l);
    return code;
}

/* How predict shows a row: the class (argmax, or logit > 0 for one BCE
 * output) for class models, the outputs for regression or --raw; --json
 * makes each line a JSON object. */
typedef struct predict_format {
    soma_loss shown; /* MSE: the outputs as they are */
    int json;
    int proba;     /* --proba: probabilities (softmax for xent, sigmoid for bce) */
    double *p;     /* --proba: room for one row's probabilities */
    const char *const *names; /* the model's class names (n_names of them), or NULL */
    int64_t n_names;
} predict_format;

/* A class: its name when the model has one (a JSON string with --json),
 * else its index. */
static void print_class(FILE *out, int64_t cls, const predict_format *f) {
    if (cls >= f->n_names) {
        fprintf(out, "%lld", (long long)cls);
    } else if (f->json) {
        cli_json_string(out, f->names[cls]);
    } else {
        fputs(f->names[cls], out);
    }
}

/* --proba: p = softmax(o) (xent: p_j = exp(o_j - max) / sum_k exp(o_k - max)),
 * or p_j = 1 / (1 + exp(-o_j)) per output (bce), in double. */
static void probabilities(const float *o, int64_t outputs, soma_loss loss, double *p) {
    if (loss == SOMA_LOSS_BCE) {
        for (int64_t j = 0; j < outputs; j++) p[j] = 1.0 / (1.0 + exp(-(double)o[j]));
        return;
    }
    double most = o[0], sum = 0.0;
    for (int64_t j = 1; j < outputs; j++) most = o[j] > most ? o[j] : most;
    for (int64_t j = 0; j < outputs; j++) sum += p[j] = exp((double)o[j] - most);
    for (int64_t j = 0; j < outputs; j++) p[j] /= sum;
}

/* A row whose outputs are not all finite prints "nan" (null in JSON) for its
 * class, never a class it does not have. Returns whether the row was finite. */
static int print_prediction(FILE *out, const float *o, int64_t outputs, const predict_format *f, int64_t row) {
    int finite = 1;
    for (int64_t j = 0; j < outputs; j++) finite &= isfinite(o[j]) != 0;
    int64_t cls = -1;
    if (f->shown == SOMA_LOSS_XENT || (outputs > 1 && f->shown == SOMA_LOSS_BCE)) {
        cls = 0;
        for (int64_t j = 1; j < outputs; j++)
            if (o[j] > o[cls]) cls = j;
    } else if (f->shown == SOMA_LOSS_BCE) {
        cls = o[0] > 0.0f;
    }
    if (f->proba) {
        double *p = f->p;
        if (finite) probabilities(o, outputs, f->shown, p);
        if (f->json) {
            fprintf(out, "{\"row\": %lld, \"class\": ", (long long)row);
            if (finite) print_class(out, cls, f);
            else fputs("null", out);
            fputs(", \"proba\": [", out);
        } else if (f->n_names) { /* the class's name first: NAME,p0,p1,... */
            if (finite) print_class(out, cls, f);
            else fputs("nan", out);
            fputc(',', out);
        }
        for (int64_t j = 0; j < outputs; j++) {
            if (j) fputs(f->json ? ", " : ",", out);
            if (!finite) fputs(f->json ? "null" : "nan", out);
            else fprintf(out, "%.6g", p[j]);
        }
        fputs(f->json ? "]}\n" : "\n", out);
    } else if (f->json) {
        fprintf(out, "{\"row\": %lld", (long long)row);
        if (cls >= 0 && finite) {
            fputs(", \"class\": ", out);
            print_class(out, cls, f);
        }
        else if (cls >= 0) fprintf(out, ", \"class\": null");
        else {
            fprintf(out, ", \"outputs\": [");
            for (int64_t j = 0; j < outputs; j++) {
                if (j) fputs(", ", out);
                cli_json_float(out, o[j]);
            }
            fputc(']', out);
        }
        fputs("}\n", out);
    } else if (cls >= 0) {
        if (finite) print_class(out, cls, f);
        else fputs("nan", out);
        fputc('\n', out);
    } else {
        for (int64_t j = 0; j < outputs; j++) fprintf(out, "%s%.9g", j ? "," : "", (double)o[j]);
        fprintf(out, "\n");
    }
    return finite;
}

/* Writes every row's prediction to out; counts the rows that are not finite. */
static void write_predictions(FILE *out, const float *pred, int64_t rows, int64_t outputs, const predict_format *f,
                              const soma_dataset *ds, int64_t *bad, int64_t *first_bad) {
    *bad = 0;
    for (int64_t i = 0; i < rows; i++) {
        int64_t source = soma_dataset_source_row(ds, i);
        if (!print_prediction(out, pred + i * outputs, outputs, f, source) && (*bad)++ == 0) *first_bad = source;
    }
}

int soma_cmd_predict(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *device = "auto", *output = NULL;
    int raw = 0, json = 0, proba = 0;
    int64_t threads = 0;
    const option opts[] = {
        {"--model", OPT_STRING, &model, "checkpoint to run"},
        {"--data", OPT_STRING, &data, "rows to predict: mnist (test set), csv:PATH[,label=COL|none], idx:, npy:, npz:"},
        {"--device", OPT_STRING, &device, "auto, cpu, cuda or cuda:N (auto)"},
        {"--output", OPT_STRING, &output, "write here instead of standard output (replaced whole, crash-safe)"},
        {"--raw", OPT_FLAG, &raw, "print the raw outputs (logits) instead of classes"},
        {"--proba", OPT_FLAG, &proba, "print class probabilities (softmax, or sigmoid for bce), comma-separated"},
        {"--json", OPT_FLAG, &json, "one JSON object a row: {\"row\": N, \"class\": K} or \"outputs\": [...]"},
        {"--threads", OPT_INT, &threads, "CPU threads (default: OMP_NUM_THREADS, else one per core)"},
    };
    const char *synopsis = "soma predict --model FILE --data SPEC[,label=none] [--output FILE] [--raw|--proba] [--json]";
    int code = options_parse("predict", synopsis, argc, argv, opts, sizeof opts / sizeof opts[0], NULL);
    if (code) return code < 0 ? 0 : code;
    if ((code = cli_set_threads("predict", threads))) return code;
    if (raw && proba) {
        fprintf(stderr, "soma predict: --raw and --proba contradict each other (logits or probabilities)\n");
        return 2;
    }
    if (!data) {
        fprintf(stderr, "soma predict: --data is required\n");
        return 2;
    }
    loaded l;
    code = load("predict", model, device, data, output, &l);
    int64_t rows = code ? 0 : soma_dataset_rows(l.src.data), outputs = code ? 0 : soma_mlp_outputs(l.model);
    float *pred = code ? NULL : malloc((size_t)(rows * outputs) * sizeof *pred);
    if (!code && !pred) {
        fprintf(stderr, "soma predict: out of memory\n");
        code = 1;
    }
    /* regression outputs in the targets' units; --raw: the network's own outputs */
    if (!code && (soma_predict(l.model, l.src.data, pred) != SOMA_OK ||
                  (!raw && soma_target_normalizer_undo(&l.info.target_normalizer, pred, rows) != SOMA_OK))) {
        fprintf(stderr, "soma predict: %s\n", soma_last_error());
        code = 1;
    }
    if (!code && proba && l.info.loss != SOMA_LOSS_XENT && l.info.loss != SOMA_LOSS_BCE) {
        fprintf(stderr, "soma predict: --proba needs a classifier; %s was trained with loss %s (regression)\n", model,
                soma_loss_name(l.info.loss));
        code = 2;
    }
    predict_format format = {.shown = raw ? SOMA_LOSS_MSE : l.info.loss, .json = json, .proba = proba,
                             .names = code ? NULL : l.info.class_names, .n_names = code ? 0 : l.info.n_class_names};
    if (!code && proba && !(format.p = malloc((size_t)outputs * sizeof *format.p))) {
        fprintf(stderr, "soma predict: out of memory\n");
        code = 1;
    }
    int64_t bad = 0, first_bad = 0;
    if (!code && !output) {
        write_predictions(stdout, pred, rows, outputs, &format, l.src.data, &bad, &first_bad);
    } else if (!code) { /* into a temporary file renamed over --output once complete */
        soma_output o;
        FILE *f = NULL;
        int fd = -1;
        if (soma_output_open("--output", output, &o) != SOMA_OK || (fd = dup(o.fd)) < 0 || !(f = fdopen(fd, "w"))) {
            fprintf(stderr, "soma predict: %s\n", fd < 0 && o.fd >= 0 ? strerror(errno) : soma_last_error());
            if (fd >= 0) close(fd);
            if (o.fd >= 0) soma_output_abort(&o);
            code = 1;
        } else {
            write_predictions(f, pred, rows, outputs, &format, l.src.data, &bad, &first_bad);
            int failed = fflush(f) != 0 || ferror(f);
            int why = errno;
            failed |= fclose(f) != 0;
            if (failed) {
                fprintf(stderr, "soma predict: --output %s: writing failed: %s\n", output, strerror(why ? why : errno));
                soma_output_abort(&o);
                code = 1;
            } else if (soma_output_commit(&o) != SOMA_OK) {
                fprintf(stderr, "soma predict: %s\n", soma_last_error());
                code = 1;
            }
        }
    }
    if (!code && bad) {
        fprintf(stderr, "soma predict: %lld of %lld rows give outputs that are not finite (the first: row %lld); "
                "their lines say nan\n", (long long)bad, (long long)rows, (long long)first_bad);
        code = 1;
    }
    free(pred);
    free(format.p);
    loaded_free(&l);
    return code;
}

static const char *norm_name(soma_norm_kind kind) {
    return kind == SOMA_NORM_SCALE01 ? "scale01" : kind == SOMA_NORM_STANDARDIZE ? "standardize" : "none";
}

/* summary --json: one object, the layers in order. */
static void print_summary_json(const char *path, const loaded *l) {
    const soma_mlp *m = l->model;
    printf("{\"model\": ");
    cli_json_string(stdout, path);
    printf(", \"inputs\": %lld, \"outputs\": %lld, \"parameters\": %lld, \"loss\": \"%s\", \"normalize\": \"%s\"",
           (long long)soma_mlp_inputs(m), (long long)soma_mlp_outputs(m), (long long)soma_mlp_parameter_count(m),
           soma_loss_name(l->info.loss), norm_name(l->info.normalizer.kind));
    printf(", \"normalize_target\": \"%s\"", norm_name(l->info.target_normalizer.kind));
    printf(", \"epochs_trained\": %d", l->info.state.epochs_done);
    if (l->info.n_class_names) {
        printf(", \"classes\": [");
        for (int64_t k = 0; k < l->info.n_class_names; k++) {
            if (k) printf(", ");
            cli_json_string(stdout, l->info.class_names[k]);
        }
        printf("]");
    }
    if (l->info.has_optimizer) {
        printf(", \"optimizer\": {\"kind\": \"%s\", \"lr\": ", soma_optim_name(l->info.optim.kind));
        cli_json_float(stdout, l->info.optim.lr);
        printf(", \"steps\": %lld}", (long long)l->info.steps);
    }
    char arch[SOMA_ARCH_MAX] = "";
    soma_mlp_arch(m, arch, sizeof arch);
    printf(", \"arch\": ");
    cli_json_string(stdout, arch);
    printf(", \"layers\": [");
    int64_t in = soma_mlp_inputs(m);
    for (int i = 0; i < soma_mlp_layer_count(m); i++) {
        soma_layer_spec spec = soma_mlp_layer(m, i);
        printf("%s{\"inputs\": %lld, \"units\": %lld, \"activation\": \"%s\", \"dropout\": ", i ? ", " : "",
               (long long)in, (long long)spec.units, soma_activation_name(spec.act));
        cli_json_float(stdout, spec.dropout);
        printf(", \"parameters\": %lld}", (long long)soma_mlp_layer_parameter_count(m, i));
        in = spec.units;
    }
    printf("]}\n");
}

int soma_cmd_summary(int argc, char **argv) {
    const char *model = NULL;
    int json = 0;
    const option opts[] = {
        {"--model", OPT_STRING, &model, "checkpoint to describe (or give it as the argument)"},
        {"--json", OPT_FLAG, &json, "print one JSON object: sizes, loss, optimizer, layers"},
    };
    const char *synopsis = "soma summary [--json] MODEL";
    const char *args[1];
    int n_args = 0;
    int code = options_parse_args("summary", synopsis, argc, argv, opts, sizeof opts / sizeof opts[0], NULL, args,
                                  1, &n_args);
    if (code) return code < 0 ? 0 : code;
    if (n_args && model) {
        fprintf(stderr, "soma summary: the model is given twice ('%s' and --model %s)\n", args[0], model);
        return 2;
    }
    if (n_args) model = args[0];
    if (!model) {
        fprintf(stderr, "soma summary: which model? (%s)\n", synopsis);
        return 2;
    }
    loaded l;
    code = load("summary", model, "cpu", NULL, NULL, &l);
    if (!code && json) {
        print_summary_json(model, &l);
    } else if (!code) {
        printf("%s: %lld inputs, loss %s", model, (long long)soma_mlp_inputs(l.model), soma_loss_name(l.info.loss));
        if (l.info.has_optimizer)
            printf(", optimizer %s lr %g, %lld steps", soma_optim_name(l.info.optim.kind), (double)l.info.optim.lr,
                   (long long)l.info.steps);
        printf(", %d epochs trained\n", l.info.state.epochs_done);
        char arch[SOMA_ARCH_MAX];
        if (soma_mlp_arch(l.model, arch, sizeof arch) == SOMA_OK) printf("arch: %s\n", arch);
        for (int64_t k = 0; k < l.info.n_class_names; k++)
            printf("%s%s%s", k ? ", " : "classes: ", l.info.class_names[k], k + 1 == l.info.n_class_names ? "\n" : "");
        soma_mlp_print_summary(l.model, stdout);
    }
    loaded_free(&l);
    return code;
}
