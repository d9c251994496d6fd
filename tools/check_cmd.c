/* check_cmd.c: `soma check`, backend correctness as a feature for users.
 *
 * For every op in the op table, every parameter set it is tested with, every
 * kernel variant and a range of awkward shapes, it runs the op on each device
 * and prints op | shape | NMSE | limit | result: the CPU against the float64
 * reference, each GPU against the CPU. The same engine runs in the tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/backend.h"
#include "core/op_check.h"
#include "soma.h"

typedef struct dims {
    int64_t m, n, k;
} dims;

static const dims full_shapes[] = {{1, 1, 1}, {7, 13, 5}, {129, 257, 65}, {1024, 1024, 256}};
static const dims quick_shapes[] = {{1, 1, 1}, {7, 13, 5}, {129, 257, 65}};

typedef struct options {
    const char *device; /* NULL: all */
    const char *op;     /* NULL: all */
    int quick;
    uint64_t seed;
} options;

typedef struct tally {
    int passed, failed;
} tally;

static void print_row(const soma_device *dev, const char *vs, const soma_check_case *c,
                      const soma_check_result *r, soma_status status) {
    char shape[64], params[64], variant[40];
    const soma_op_desc *d = &soma_op_table[c->op];
    if (c->op == SOMA_OP_GEMM)
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)c->m, (long long)c->n, (long long)c->k);
    else
        snprintf(shape, sizeof shape, "%lldx%lld", (long long)c->m, (long long)c->n);
    soma_check_describe_params(c, params, sizeof params);
    snprintf(variant, sizeof variant, "%s", c->variant ? c->variant : "default");
    printf("%-7s %-4s %-22s %-9s %-15s %-26s ", soma_device_name(dev), vs, d->name, variant, shape,
           params);
    if (status != SOMA_OK)
        printf("%-9s %-9s ERROR %s\n", "-", "-", soma_last_error());
    else
        printf("%-9.2e %-9.1e %s%s\n", r->nmse, r->limit, r->passed ? "ok" : "FAIL",
               r->guards_intact ? "" : " (write outside the output)");
}

/* Every variant of every op on dev, at every shape. base NULL: against the
 * float64 reference. */
static void check_device(soma_device *dev, soma_device *base, const options *o, tally *t) {
    const soma_backend *be = dev->backend;
    const dims *shapes = o->quick ? quick_shapes : full_shapes;
    int n_shapes = o->quick ? 3 : 4;
    for (int op = 0; op < SOMA_OP_COUNT; op++) {
        const soma_op_desc *d = &soma_op_table[op];
        if (o->op && strcmp(o->op, d->name) != 0) continue;
        const char *variants[8] = {NULL};
        int n_variants = 1;
        for (int v = 0; be->variants && be->variants[v].name && n_variants < 8; v++)
            if (be->variants[v].op == (soma_op_id)op) variants[n_variants++] = be->variants[v].name;
        int n_params = d->n_test_params ? d->n_test_params : 1;
        for (int v = 0; v < n_variants; v++)
            for (int pi = 0; pi < n_params; pi++)
                for (int s = 0; s < n_shapes; s++) {
                    soma_check_case c = {.op = (soma_op_id)op, .param_index = pi, .m = shapes[s].m,
                                         .n = shapes[s].n, .k = shapes[s].k, .seed = o->seed,
                                         .variant = variants[v]};
                    soma_check_result r;
                    soma_status st = base ? soma_check_against_device(dev, base, &c, &r)
                                          : soma_check_against_reference(dev, &c, &r);
                    print_row(dev, base ? soma_device_name(base) : "ref", &c, &r, st);
                    if (st == SOMA_OK && r.passed)
                        t->passed++;
                    else
                        t->failed++;
                }
    }
}

static int usage(FILE *to) {
    fprintf(to,
            "usage: soma check [--device SPEC] [--op NAME] [--quick] [--seed N]\n"
            "  Runs every op on every device and prints op | shape | NMSE | limit | result:\n"
            "  the CPU against a float64 reference, each CUDA GPU against the CPU.\n"
            "  --device SPEC  only this device (cpu, cuda, cuda:N)\n"
            "  --op NAME      only this op (e.g. gemm, softmax, relu_backward)\n"
            "  --quick        skip the 1024x1024 shapes\n"
            "  --seed N       seed of the random inputs (default 1)\n"
            "Exit status: 0 all passed, 1 a comparison failed, 2 bad usage.\n");
    return to == stdout ? 0 : 2;
}

static int parse(int argc, char **argv, options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout) - 1;
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--device") == 0 && has_value) {
            o->device = argv[++i];
        } else if (strcmp(a, "--op") == 0 && has_value) {
            o->op = argv[++i];
            if (soma_op_find(o->op) == SOMA_OP_COUNT) {
                fprintf(stderr, "soma check: unknown op '%s'\n", o->op);
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            char *end;
            o->seed = strtoull(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "soma check: --seed needs a number, got '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "soma check: unknown or incomplete option '%s'\n", a);
            return usage(stderr);
        }
    }
    return 0;
}

int soma_cmd_check(int argc, char **argv) {
    options o = {.seed = 1};
    int code = parse(argc, argv, &o);
    if (code == -1) return 0; /* --help */
    if (code) return code;

    soma_device *cpu = NULL;
    if (soma_device_open("cpu", &cpu) != SOMA_OK) {
        fprintf(stderr, "soma check: %s\n", soma_last_error());
        return 1;
    }
    tally t = {0, 0};
    printf("%-7s %-4s %-22s %-9s %-15s %-26s %-9s %-9s %s\n", "device", "vs", "op", "variant",
           "shape", "params", "NMSE", "limit", "result");
    int want_cpu = !o.device || strcmp(o.device, "cpu") == 0;
    if (want_cpu) {
        printf("# %s\n", soma_device_description(cpu));
        check_device(cpu, NULL, &o, &t);
    }
    const char *reason = NULL;
    int n_gpus = soma_cuda_device_count(&reason);
    if (n_gpus == 0 && !o.device) printf("# cuda: skipped: %s\n", reason);
    if (n_gpus == 0 && o.device && strncmp(o.device, "cuda", 4) == 0) {
        printf("# %s: not available: %s\n", o.device, reason);
        t.failed++;
    }
    for (int g = 0; g < n_gpus; g++) {
        char name[16];
        snprintf(name, sizeof name, "cuda:%d", g);
        if (o.device && strcmp(o.device, name) != 0 && !(strcmp(o.device, "cuda") == 0 && g == 0))
            continue;
        soma_device *gpu = NULL;
        if (soma_device_open(name, &gpu) != SOMA_OK) {
            printf("# %s: cannot open: %s\n", name, soma_last_error());
            t.failed++;
            continue;
        }
        printf("# %s\n", soma_device_description(gpu));
        check_device(gpu, cpu, &o, &t);
        soma_device_close(gpu);
    }
    soma_device_close(cpu);
    printf("soma check: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
