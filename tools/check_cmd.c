/* check_cmd.c: `soma check`, backend correctness as a feature for users.
 *
 * For every op in the op table, every parameter set it is tested with, every
 * kernel variant and a range of awkward shapes, it runs the op on each device
 * and prints op | shape | NMSE | limit | result: the CPU against the float64
 * reference, each GPU against the CPU. The same engine runs in the tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "core/backend.h"
#include "core/op_check.h"
#include "io/json.h"
#include "options.h"
#include "soma.h"

typedef struct options {
    const char *device; /* NULL: all */
    const char *op;     /* NULL: all */
    int quick;
    uint64_t seed;
    int json;
    int64_t threads; /* 0: the default */
    int quiet;       /* only what failed, and the count */
} options;

typedef struct tally {
    int passed, failed, rows;
} tally;

/* --json: one object, {"rows": [...], "devices": [...], "passed": N, "failed": N},
 * printed as it goes so that a long run streams. */
static void json_string(const char *s) {
    soma_json_buf b = {0};
    soma_json_buf_append_string(&b, s);
    fputs(b.failed ? "null" : b.data, stdout);
    soma_json_buf_free(&b);
}

static void json_number(double v) {
    if (isfinite(v))
        printf("%.6g", v);
    else
        fputs("null", stdout); /* JSON has no NaN or infinity */
}

static void print_row(const soma_device *dev, const char *vs, const soma_check_case *c,
                      const soma_check_result *r, soma_status status, const options *o, tally *t) {
    char shape[64], params[64], variant[40];
    const soma_op_desc *d = &soma_op_table[c->op];
    if (c->op == SOMA_OP_GEMM)
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)c->m, (long long)c->n, (long long)c->k);
    else
        snprintf(shape, sizeof shape, "%lldx%lld", /* the rows the op ran with (op_table.h) */
                 (long long)(c->m < d->min_rows ? d->min_rows : c->m),
                 (long long)c->n);
    soma_check_describe_params(c, params, sizeof params);
    snprintf(variant, sizeof variant, "%s", c->variant ? c->variant : "default");
    if (o->json) {
        printf("%s\n  {\"device\": ", t->rows++ ? "," : "");
        json_string(soma_device_name(dev));
        printf(", \"vs\": ");
        json_string(vs);
        printf(", \"op\": ");
        json_string(d->name);
        printf(", \"variant\": ");
        json_string(variant);
        printf(", \"shape\": \"%s\", \"params\": ", shape);
        json_string(params);
        printf(", \"nmse\": ");
        json_number(status == SOMA_OK ? r->nmse : NAN);
        printf(", \"limit\": ");
        json_number(status == SOMA_OK ? r->limit : NAN);
        printf(", \"guards_intact\": %s, \"passed\": %s, \"error\": ",
               status != SOMA_OK ? "null" : r->guards_intact ? "true" : "false",
               status == SOMA_OK && r->passed ? "true" : "false");
        if (status == SOMA_OK) {
            printf("null}");
        } else {
            json_string(soma_last_error());
            printf("}");
        }
        return;
    }
    if (o->quiet && status == SOMA_OK && r->passed && r->guards_intact) return;
    printf("%-7s %-4s %-22s %-9s %-15s %-26s ", soma_device_name(dev), vs, d->name, variant, shape,
           params);
    if (status != SOMA_OK)
        printf("%-9s %-9s ERROR %s\n", "-", "-", soma_last_error());
    else
        printf("%-9.2e %-9.1e %s%s\n", r->nmse, r->limit, r->passed ? "ok" : "FAIL",
               r->guards_intact ? "" : " (write outside the output)");
}

/* What happened to a device: a "# ..." comment line in the table, an entry of
 * "devices" in JSON (printed after the rows). */
typedef struct device_note {
    char name[16];
    char status[16]; /* "checked", "skipped", "unavailable", "error" */
    char detail[256];
} device_note;

typedef struct notes {
    device_note items[17];
    int count;
} notes;

static void note(notes *n, const options *o, const char *name, const char *status, const char *detail) {
    if (n->count < (int)(sizeof n->items / sizeof n->items[0])) {
        device_note *d = &n->items[n->count++];
        snprintf(d->name, sizeof d->name, "%s", name);
        snprintf(d->status, sizeof d->status, "%s", status);
        snprintf(d->detail, sizeof d->detail, "%s", detail ? detail : "");
    }
    if (o->json || (o->quiet && (strcmp(status, "checked") == 0 || strcmp(status, "skipped") == 0))) return;
    if (strcmp(status, "checked") == 0)
        printf("# %s\n", detail);
    else if (strcmp(status, "skipped") == 0)
        printf("# %s: skipped: %s\n", name, detail);
    else if (strcmp(status, "unavailable") == 0)
        printf("# %s: not available: %s\n", name, detail);
    else
        printf("# %s: cannot open: %s\n", name, detail);
}

/* Every variant of every op on dev, at every shape. base NULL: against the
 * float64 reference. */
static void check_device(soma_device *dev, soma_device *base, const options *o, tally *t) {
    const soma_backend *be = dev->backend;
    for (int op = 0; op < SOMA_OP_COUNT; op++) {
        const soma_op_desc *d = &soma_op_table[op];
        if (o->op && strcmp(o->op, d->name) != 0) continue;
        const char *variants[8] = {NULL};
        int n_variants = 1;
        for (int v = 0; be->variants && be->variants[v].name && n_variants < 8; v++)
            if (be->variants[v].op == (soma_op_id)op) variants[n_variants++] = be->variants[v].name;
        int n_params = d->n_test_params ? d->n_test_params : 1;
        /* variants innermost: they share one expected result (op_check.c) */
        for (int pi = 0; pi < n_params; pi++)
            for (int s = 0; s < SOMA_CHECK_SHAPE_COUNT; s++)
                for (int v = 0; v < n_variants; v++) {
                    const soma_check_shape *sh = &soma_check_shapes[s];
                    if (o->quick && sh->large) continue;
                    soma_check_case c = {.op = (soma_op_id)op, .param_index = pi, .m = sh->m,
                                         .n = sh->n, .k = sh->k, .seed = o->seed,
                                         .variant = variants[v]};
                    soma_check_result r;
                    soma_status st = base ? soma_check_against_device(dev, base, &c, &r)
                                          : soma_check_against_reference(dev, &c, &r);
                    print_row(dev, base ? soma_device_name(base) : "ref", &c, &r, st, o, t);
                    if (st == SOMA_OK && r.passed)
                        t->passed++;
                    else
                        t->failed++;
                }
    }
}

int soma_cmd_check(int argc, char **argv) {
    options o = {.seed = 1};
    const option opts[] = {
        {"--device", OPT_STRING, &o.device, "only this device: cpu, cuda or cuda:N (all)"},
        {"--op", OPT_STRING, &o.op, "only this op, e.g. gemm, softmax, relu_backward (all)"},
        {"--quick", OPT_FLAG, &o.quick, "skip the large shapes (1024x1024x256, 1x1000000)"},
        {"--seed", OPT_U64, &o.seed, "seed of the random inputs (1)"},
        {"--json", OPT_FLAG, &o.json, "print one JSON object: rows, devices, passed, failed"},
        {"--threads", OPT_INT, &o.threads, "CPU threads (default: OMP_NUM_THREADS, else one per core)"},
        {"--quiet", OPT_FLAG, &o.quiet, "print only the rows that failed, and the count"},
    };
    const char *synopsis = "soma check [--device SPEC] [--op NAME] [--quick] [--seed N] [--json]";
    int code = options_parse("check", synopsis, argc, argv, opts, sizeof opts / sizeof opts[0], NULL);
    if (code < 0) {
        printf("Runs every op on every device and prints op | shape | NMSE | limit | result:\n"
               "the CPU against a float64 reference, each CUDA GPU against the CPU.\n"
               "Exit status: 0 all passed, 1 a comparison failed, 2 bad usage.\n");
        return 0;
    }
    if (code) return code;
    if ((code = cli_set_threads("check", o.threads))) return code;
    if (o.quiet && o.json) {
        fprintf(stderr, "soma check: --quiet and --json contradict each other\n");
        return 2;
    }
    if (o.op && soma_op_find(o.op) == SOMA_OP_COUNT) {
        fprintf(stderr, "soma check: unknown op '%s' (soma check --help)\n", o.op);
        return 2;
    }
    if (o.device && strcmp(o.device, "cpu") != 0 && strncmp(o.device, "cuda", 4) != 0) {
        fprintf(stderr, "soma check: unknown --device '%s' (expected cpu, cuda or cuda:N)\n", o.device);
        return 2;
    }

    soma_device *cpu = NULL;
    if (soma_device_open("cpu", &cpu) != SOMA_OK) {
        fprintf(stderr, "soma check: %s\n", soma_last_error());
        return 1;
    }
    tally t = {0, 0, 0};
    notes n = {.count = 0};
    if (o.json)
        printf("{\"rows\": [");
    else if (!o.quiet)
        printf("%-7s %-4s %-22s %-9s %-15s %-26s %-9s %-9s %s\n", "device", "vs", "op", "variant",
               "shape", "params", "NMSE", "limit", "result");
    int want_cpu = !o.device || strcmp(o.device, "cpu") == 0;
    if (want_cpu) {
        note(&n, &o, "cpu", "checked", soma_device_description(cpu));
        check_device(cpu, NULL, &o, &t);
    }
    const char *reason = NULL;
    int n_gpus = soma_cuda_device_count(&reason);
    if (n_gpus == 0 && !o.device) note(&n, &o, "cuda", "skipped", reason);
    if (n_gpus == 0 && o.device && strncmp(o.device, "cuda", 4) == 0) {
        note(&n, &o, o.device, "unavailable", reason);
        t.failed++;
    }
    for (int g = 0; g < n_gpus; g++) {
        char name[16];
        snprintf(name, sizeof name, "cuda:%d", g);
        if (o.device && strcmp(o.device, name) != 0 && !(strcmp(o.device, "cuda") == 0 && g == 0))
            continue;
        soma_device *gpu = NULL;
        if (soma_device_open(name, &gpu) != SOMA_OK) {
            note(&n, &o, name, "error", soma_last_error());
            t.failed++;
            continue;
        }
        note(&n, &o, name, "checked", soma_device_description(gpu));
        check_device(gpu, cpu, &o, &t);
        soma_device_close(gpu);
    }
    soma_device_close(cpu);
    if (o.json) {
        printf("%s],\n \"devices\": [", t.rows ? "\n" : "");
        for (int i = 0; i < n.count; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            json_string(n.items[i].name);
            printf(", \"status\": \"%s\", \"detail\": ", n.items[i].status);
            json_string(n.items[i].detail);
            printf("}");
        }
        printf("],\n \"passed\": %d, \"failed\": %d}\n", t.passed, t.failed);
    } else {
        printf("soma check: %d passed, %d failed\n", t.passed, t.failed);
    }
    return t.failed ? 1 : 0;
}
