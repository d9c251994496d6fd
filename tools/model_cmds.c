/* model_cmds.c: `soma eval`, `soma predict` and `soma summary`: what to do
 * with a saved model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data_spec.h"
#include "options.h"
#include "soma/checkpoint.h"
#include "soma.h"

/* A checkpoint loaded onto a device, with its data when asked for. */
typedef struct loaded {
    soma_device *dev;
    soma_mlp *model;
    soma_checkpoint_info info;
    data_source src;
} loaded;

static void loaded_free(loaded *l) {
    soma_dataset_free(l->src.data);
    soma_normalizer_free(&l->info.normalizer);
    soma_mlp_free(l->model);
    soma_device_close(l->dev);
}

/* Loads --model on --device and, when data is not NULL, the data (the test
 * part for mnist), normalized as the model was trained. */
static int load(const char *command, const char *model_path, const char *device, const char *data,
                loaded *l) {
    memset(l, 0, sizeof *l);
    if (!model_path) {
        fprintf(stderr, "soma %s: --model is required\n", command);
        return 2;
    }
    if (soma_device_open(device, &l->dev) != SOMA_OK ||
        soma_checkpoint_load(model_path, l->dev, &l->model, &l->info) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
        return 1;
    }
    if (!data) return 0;
    if (data_spec_load(command, data, DATA_TEST, &l->src)) return 1;
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

int soma_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *device = "auto";
    int json = 0;
    const option opts[] = {
        {"--model", OPT_STRING, &model, "checkpoint to evaluate"},
        {"--data", OPT_STRING, &data, "mnist (its test set), csv:PATH[,label=COL] or idx:IMAGES,LABELS"},
        {"--device", OPT_STRING, &device, "auto, cpu, cuda or cuda:N (auto)"},
        {"--json", OPT_FLAG, &json, "print one JSON object"},
    };
    const char *synopsis = "soma eval --model FILE --data SPEC [--device D] [--json]";
    int code = options_parse("eval", synopsis, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (code) return code < 0 ? 0 : code;
    if (!data) {
        fprintf(stderr, "soma eval: --data is required\n");
        return 2;
    }
    loaded l;
    code = load("eval", model, device, data, &l);
    double loss = NAN, accuracy = NAN;
    if (!code && soma_evaluate(l.model, l.src.data, l.info.loss, &loss, &accuracy) != SOMA_OK) {
        fprintf(stderr, "soma eval: %s\n", soma_last_error());
        code = 1;
    }
    if (!code && json) { /* JSON has no NaN: a missing accuracy (regression) is null */
        char loss_text[32], accuracy_text[32];
        snprintf(loss_text, sizeof loss_text, isfinite(loss) ? "%.9g" : "null", loss);
        snprintf(accuracy_text, sizeof accuracy_text, isfinite(accuracy) ? "%.9g" : "null", accuracy);
        printf("{\"loss\": %s, \"accuracy\": %s, \"rows\": %lld, \"loss_kind\": \"%s\"}\n", loss_text,
               accuracy_text, (long long)soma_dataset_rows(l.src.data), soma_loss_name(l.info.loss));
    } else if (!code)
        printf("%s: %lld rows  loss %.4f  accuracy %s%.4f\n", l.src.name,
               (long long)soma_dataset_rows(l.src.data), loss, isnan(accuracy) ? "n/a " : "",
               isnan(accuracy) ? 0.0 : accuracy);
    loaded_free(&l);
    return code;
}

/* Class models print the class (argmax, or logit > 0 for one BCE output),
 * regression models their outputs. */
static void print_prediction(FILE *out, const float *o, int64_t outputs, soma_loss loss) {
    if (loss == SOMA_LOSS_XENT || (outputs > 1 && loss == SOMA_LOSS_BCE)) {
        int64_t best = 0;
        for (int64_t j = 1; j < outputs; j++)
            if (o[j] > o[best]) best = j;
        fprintf(out, "%lld\n", (long long)best);
    } else if (loss == SOMA_LOSS_BCE) {
        fprintf(out, "%d\n", o[0] > 0.0f);
    } else {
        for (int64_t j = 0; j < outputs; j++) fprintf(out, "%s%.9g", j ? "," : "", (double)o[j]);
        fprintf(out, "\n");
    }
}

int soma_cmd_predict(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *device = "auto", *output = NULL;
    int raw = 0;
    const option opts[] = {
        {"--model", OPT_STRING, &model, "checkpoint to run"},
        {"--data", OPT_STRING, &data, "rows to predict: mnist (test set), csv:PATH[,label=COL], idx:..."},
        {"--device", OPT_STRING, &device, "auto, cpu, cuda or cuda:N (auto)"},
        {"--output", OPT_STRING, &output, "write here instead of standard output"},
        {"--raw", OPT_FLAG, &raw, "print the raw outputs (logits) instead of classes"},
    };
    const char *synopsis = "soma predict --model FILE --data SPEC [--output FILE] [--raw]";
    int code = options_parse("predict", synopsis, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (code) return code < 0 ? 0 : code;
    if (!data) {
        fprintf(stderr, "soma predict: --data is required\n");
        return 2;
    }
    loaded l;
    code = load("predict", model, device, data, &l);
    int64_t rows = code ? 0 : soma_dataset_rows(l.src.data), outputs = code ? 0 : soma_mlp_outputs(l.model);
    float *pred = code ? NULL : malloc((size_t)(rows * outputs) * sizeof *pred);
    if (!code && !pred) {
        fprintf(stderr, "soma predict: out of memory\n");
        code = 1;
    }
    if (!code && soma_predict(l.model, l.src.data, pred) != SOMA_OK) {
        fprintf(stderr, "soma predict: %s\n", soma_last_error());
        code = 1;
    }
    FILE *out = stdout;
    if (!code && output && !(out = fopen(output, "w"))) {
        fprintf(stderr, "soma predict: cannot write %s\n", output);
        code = 1;
    }
    for (int64_t i = 0; !code && i < rows; i++)
        print_prediction(out, pred + i * outputs, outputs, raw ? SOMA_LOSS_MSE : l.info.loss);
    if (out && out != stdout) fclose(out);
    free(pred);
    loaded_free(&l);
    return code;
}

int soma_cmd_summary(int argc, char **argv) {
    const char *model = NULL;
    const option opts[] = {{"--model", OPT_STRING, &model, "checkpoint to describe"}};
    int code = options_parse("summary", "soma summary --model FILE", argc, argv, opts, 1);
    if (code) return code < 0 ? 0 : code;
    loaded l;
    code = load("summary", model, "cpu", NULL, &l);
    if (!code) {
        printf("%s: %lld inputs, loss %s", model, (long long)soma_mlp_inputs(l.model), soma_loss_name(l.info.loss));
        if (l.info.has_optimizer)
            printf(", optimizer %s lr %g, %lld steps", soma_optim_name(l.info.optim.kind), (double)l.info.optim.lr,
                   (long long)l.info.steps);
        printf(", %d epochs trained\n", l.info.state.epochs_done);
        soma_mlp_print_summary(l.model, stdout);
    }
    loaded_free(&l);
    return code;
}
