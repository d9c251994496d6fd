/* test_layers.c: the layer table through the public model API: gradients of
 * every layer kind against central differences of the loss, architecture
 * strings (canonical form, round trip, errors), checkpoints of every kind
 * (save/load, optimizer state) and plain safetensors state dicts (import and
 * each mismatch). Seeded by TEST_SEED, printed by every failure that
 * depends on it. */
#include <math.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "soma/checkpoint.h"
#include "test_util.h"

#define ROWS 6

/* fills every float tensor of m, and x, from a fixed seed (weights, norms
 * away from 1 so that their gradients are not special) */
static void randomize(soma_mlp *m, uint64_t seed) {
    soma_rng rng = soma_rng_make(seed);
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        if (!p.value) continue;
        rng.offset = (uint64_t)i;
        if (strstr(p.name, "running_var"))
            ck_soma(soma_tensor_fill_uniform(p.value, &rng, 0.5f, 1.5f));
        else
            ck_soma(soma_tensor_fill_uniform(p.value, &rng, -0.6f, 0.6f));
    }
}

/* L = sum_ij out_ij r_ij (a fixed random r): dL/dout = r, and L in double from
 * the downloaded outputs */
static double loss_of(soma_mlp *m, const soma_tensor *x, const float *r, int64_t n) {
    const soma_tensor *out;
    soma_rng none = {0, 0};
    ck_soma(soma_mlp_forward(m, x, 1, none, &out));
    float *o = malloc((size_t)n * sizeof *o);
    ck_soma(soma_tensor_download(out, o, (size_t)n));
    double l = 0.0;
    for (int64_t k = 0; k < n; k++) l += (double)o[k] * (double)r[k];
    free(o);
    return l;
}

/* The model's gradient of every trained tensor (up to 24 entries each,
 * spread over it) against (L(w + h) - L(w - h)) / 2h. Float32 forwards: h =
 * 1e-2 keeps the rounding error of L near 1e-5 while the truncation error is
 * O(h^2); pass when |g - fd| <= 2e-3 + 2e-2 |fd|. */
static void check_gradients(const char *arch) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create_arch(cpu, arch, &m));
    randomize(m, TEST_SEED);
    int64_t in = soma_mlp_inputs(m), outs = soma_mlp_outputs(m), n = ROWS * outs;
    soma_tensor *x, *dout;
    ck_soma(soma_tensor_create(cpu, ROWS, in, &x));
    ck_soma(soma_tensor_create(cpu, ROWS, outs, &dout));
    soma_rng rng = soma_rng_make(TEST_SEED + 1);
    ck_soma(soma_tensor_fill_normal(x, &rng, 0.0f, 1.0f));
    float *r = malloc((size_t)n * sizeof *r);
    for (int64_t k = 0; k < n; k++) r[k] = (float)sin(0.7 * (double)k + 0.3);
    ck_soma(soma_tensor_upload(dout, r, (size_t)n));
    loss_of(m, x, r, n);
    ck_soma(soma_mlp_backward(m, x, dout));
    int checked = 0;
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        if (!p.grad) continue;
        int64_t size = soma_tensor_numel(p.value), step = size > 24 ? size / 24 : 1;
        float *w = malloc((size_t)size * sizeof *w), *g = malloc((size_t)size * sizeof *g);
        ck_soma(soma_tensor_download(p.value, w, (size_t)size));
        ck_soma(soma_tensor_download(p.grad, g, (size_t)size));
        for (int64_t k = 0; k < size; k += step) {
            const float h = 1e-2f;
            float keep = w[k];
            w[k] = keep + h;
            ck_soma(soma_tensor_upload(p.value, w, (size_t)size));
            double up = loss_of(m, x, r, n);
            w[k] = keep - h;
            ck_soma(soma_tensor_upload(p.value, w, (size_t)size));
            double down = loss_of(m, x, r, n);
            w[k] = keep;
            ck_soma(soma_tensor_upload(p.value, w, (size_t)size));
            double fd = (up - down) / (2.0 * h);
            ck_assert_msg(fabs(g[k] - fd) <= 2e-3 + 2e-2 * fabs(fd),
                          "%s: d loss / d %s[%lld]: backward %.6g, central differences %.6g (seed %llu)", arch,
                          p.name, (long long)k, (double)g[k], fd, (unsigned long long)TEST_SEED);
            checked++;
        }
        free(w);
        free(g);
    }
    ck_assert_int_gt(checked, 0);
    free(r);
    soma_tensor_free(x);
    soma_tensor_free(dout);
    soma_mlp_free(m);
    soma_device_close(cpu);
}

/* one architecture per kind and position, at awkward widths (1, 7, 129) */
static const char *const grad_archs[] = {
    "7,dense:9:tanh,dense:3",
    "7,dense:9,batchnorm:tanh,dense:3",
    "7,bn,dense:1",                      /* first layer: its dx is computed for nobody */
    "7,layernorm:sigmoid,dense:3",
    "7,dense:5,ln",                      /* an identity output norm: out is y itself */
    "7,res:5:tanh,dense:3",              /* W = in: s(x) = x, and no dx (first layer) */
    "7,dense:6:tanh,res:5:tanh,dense:3", /* W = in, dx = dx_n + dy */
    "7,res:5:gelu:4,dense:1",            /* a projection */
    "1,dense:129:tanh,ln:silu,res:7:tanh:1", /* a residual output, width 129 in the middle */
};

START_TEST(gradients_match_central_differences) { check_gradients(grad_archs[_i]); }
END_TEST

/* A batchnorm layer's running statistics after one training forward, as
 * PyTorch's BatchNorm1d (momentum 0.1) updates them from 0 and 1:
 * mean 0.1 m_j, var 0.9 + 0.1 s_j^2 with the unbiased variance; and the
 * counter counts the forward. */
START_TEST(batchnorm_running_statistics_follow_pytorch) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create_arch(cpu, "3,bn,dense:1", &m));
    const float xs[ROWS * 3] = {1, 2, -1, 0.5f, 4, 0, -2, 1, 3, 0, 0, 1, 3, -1, 2, 1, 1, 1};
    soma_tensor *x;
    ck_soma(soma_tensor_create(cpu, ROWS, 3, &x));
    ck_soma(soma_tensor_upload(x, xs, ROWS * 3));
    const soma_tensor *out;
    soma_rng none = {0, 0};
    ck_soma(soma_mlp_forward(m, x, 1, none, &out));
    float rm[3], rv[3];
    ck_soma(soma_tensor_download(soma_mlp_param(m, 2).value, rm, 3));
    ck_soma(soma_tensor_download(soma_mlp_param(m, 3).value, rv, 3));
    for (int j = 0; j < 3; j++) {
        double mean = 0, ss = 0;
        for (int i = 0; i < ROWS; i++) mean += xs[i * 3 + j] / (double)ROWS;
        for (int i = 0; i < ROWS; i++) ss += (xs[i * 3 + j] - mean) * (xs[i * 3 + j] - mean);
        ck_assert_msg(fabs(rm[j] - 0.1 * mean) < 1e-6, "running_mean[%d] %g, want %g", j, (double)rm[j], 0.1 * mean);
        ck_assert_msg(fabs(rv[j] - (0.9 + 0.1 * ss / (ROWS - 1))) < 1e-6, "running_var[%d] %g, want %g", j,
                      (double)rv[j], 0.9 + 0.1 * ss / (ROWS - 1));
    }
    ck_assert_str_eq(soma_mlp_param(m, 4).name, "layers.0.num_batches_tracked");
    ck_assert_int_eq(*soma_mlp_param(m, 4).count, 1);
    ck_soma(soma_mlp_forward(m, x, 0, none, &out)); /* evaluation: statistics untouched */
    ck_assert_int_eq(*soma_mlp_param(m, 4).count, 1);
    soma_tensor_free(x);
    soma_mlp_free(m);
    soma_device_close(cpu);
}
END_TEST

/* A residual block's dead ReLU units are its hidden units: fc1's bias puts
 * units 0 and 1 far below 0 and the rest far above (layernorm's outputs
 * stay within sqrt(3) here), so 2 of 5 never fire in training and evaluation
 * leaves the count alone. */
START_TEST(residual_blocks_count_their_dead_hidden_units) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create_arch(cpu, "3,res:5:relu,dense:2", &m));
    ck_assert_str_eq(soma_mlp_param(m, 3).name, "layers.0.fc1.bias");
    const float bias[5] = {-100, -100, 100, 100, 100};
    ck_soma(soma_tensor_upload(soma_mlp_param(m, 3).value, bias, 5));
    const float xs[ROWS * 3] = {1, 2, -1, 0.5f, 4, 0, -2, 1, 3, 0, 0, 1, 3, -1, 2, 1, 1, 1};
    soma_tensor *x;
    ck_soma(soma_tensor_create(cpu, ROWS, 3, &x));
    ck_soma(soma_tensor_upload(x, xs, ROWS * 3));
    const soma_tensor *out;
    soma_rng none = {0, 0};
    double dead = -1.0;
    ck_soma(soma_mlp_reset_dead_tracking(m));
    ck_soma(soma_mlp_forward(m, x, 0, none, &out));
    ck_soma(soma_mlp_dead_fraction(m, 0, &dead));
    ck_assert_msg(dead == 1.0, "before any training forward every unit counts as dead, got %g", dead);
    ck_soma(soma_mlp_forward(m, x, 1, none, &out));
    ck_soma(soma_mlp_dead_fraction(m, 0, &dead));
    ck_assert_msg(fabs(dead - 0.4) < 1e-12, "dead fraction %g, want 2 of 5 hidden units", dead);
    soma_tensor_free(x);
    soma_mlp_free(m);
    soma_device_close(cpu);
}
END_TEST

START_TEST(arch_canonical_form_round_trips) {
    static const struct {
        const char *given, *canonical;
    } cases[] = {
        {"784,dense:256,batchnorm:relu,res:256:relu,res:256:relu,dense:10",
         "784,dense:256:identity:drop=0,batchnorm:relu:drop=0,res:256:relu:256,res:256:relu:256,"
         "dense:10:identity:drop=0"},
        {"4,bn,ln:tanh:drop=0.25,dense:2", "4,batchnorm:identity:drop=0,layernorm:tanh:drop=0.25,dense:2:identity:drop=0"},
        {"4,dense:8:drop=0.5:leaky_relu=0.2,res:3:6,dense:1",
         "4,dense:8:leaky_relu=0.2:drop=0.5,res:3:identity:6,dense:1:identity:drop=0"},
        {"3,dense:2:leaky_relu", "3,dense:2:leaky_relu=0.01:drop=0"},
        {"3,dense:2:sigmoid:drop=0.1,dense:1", "3,dense:2:sigmoid:drop=0.1,dense:1:identity:drop=0"},
        {"3,residual:4:gelu:3", "3,res:4:gelu_erf:3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[SOMA_ARCH_MAX], again[SOMA_ARCH_MAX];
        int64_t inputs = 0;
        ck_soma(soma_arch_canonical(cases[i].given, buf, sizeof buf, &inputs));
        ck_assert_str_eq(buf, cases[i].canonical);
        ck_soma(soma_arch_canonical(buf, again, sizeof again, NULL));
        ck_assert_str_eq(again, buf);
        /* a model built from it says the same */
        soma_device *cpu = test_open("cpu");
        soma_mlp *m = NULL;
        ck_soma(soma_mlp_create_arch(cpu, cases[i].given, &m));
        ck_soma(soma_mlp_arch(m, again, sizeof again));
        ck_assert_str_eq(again, buf);
        ck_assert_int_eq(soma_mlp_inputs(m), inputs);
        soma_mlp_free(m);
        soma_device_close(cpu);
    }
    /* --layers' models are the same list: soma_mlp_create_simple gives dense layers */
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    const int64_t sizes[] = {5, 7, 2};
    ck_soma(soma_mlp_create_simple(cpu, sizes, 3, SOMA_ACT_RELU, &m));
    char buf[SOMA_ARCH_MAX];
    ck_soma(soma_mlp_arch(m, buf, sizeof buf));
    ck_assert_str_eq(buf, "5,dense:7:relu:drop=0,dense:2:identity:drop=0");
    char tiny[8];
    ck_fails(soma_mlp_arch(m, tiny, sizeof tiny), SOMA_ERR_INVALID_ARG, "do not fit");
    soma_mlp_free(m);
    soma_device_close(cpu);
}
END_TEST

START_TEST(arch_errors_name_the_token_and_position) {
    static const struct {
        const char *arch, *fragment;
    } cases[] = {
        {"", "token 1 '' (character 1): empty"},
        {"784", "no layers after the inputs"},
        {"x,dense:2", "token 1 'x' (character 1): the first field is the number of inputs"},
        {"784,dense", "token 2 'dense' (character 5): dense needs its width"},
        {"784,dense:0", "token 2 'dense:0' (character 5): width '0' is not an integer"},
        {"784,conv:3", "token 2 'conv:3' (character 5): unknown layer kind 'conv'"},
        {"784,dense:10,,dense:2", "token 3 '' (character 14): empty"},
        {"784,dense:10:relu:tanh", "field 'tanh' is not an activation or drop=P"},
        {"784,dense:10:drop=1,dense:2", "'drop=1' is not one dropout probability in [0, 1)"},
        {"784,dense:10:drop=0.5", "token 2 'dense:10:drop=0.5' (character 5): the output layer cannot have dropout"},
        {"4,res:8:relu:4:5", "field '5' is not an activation or an output width"},
        {"4,res:8:drop=0.1", "field 'drop=0.1' is not an activation or an output width"},
        {"4,bn:drop=0.1:drop=0.2,dense:2", "'drop=0.2' is not one dropout probability"},
        {"4,dense:3:relu=2", "field 'relu=2' is not an activation"},
        {"4,dense:99999999999", "width '99999999999' is not an integer in [1, 2147483647]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[SOMA_ARCH_MAX];
        ck_fails(soma_arch_canonical(cases[i].arch, buf, sizeof buf, NULL), SOMA_ERR_INVALID_ARG, cases[i].fragment);
        soma_device *cpu = test_open("cpu");
        soma_mlp *m = (soma_mlp *)1;
        ck_fails(soma_mlp_create_arch(cpu, cases[i].arch, &m), SOMA_ERR_INVALID_ARG, cases[i].fragment);
        ck_assert_ptr_null(m);
        soma_device_close(cpu);
    }
}
END_TEST

/* Every layer kind in one model: a few Adam steps (running statistics and
 * counters move), then save and load: every tensor, counter and optimizer
 * state back bit for bit. */
static const char *const every_kind = "7,dense:9:relu:drop=0.2,batchnorm:tanh,res:5:gelu,ln:silu,res:4:relu:3,dense:2";

static void train_steps(soma_mlp *m, soma_optimizer *o, int steps) {
    soma_device *dev = soma_mlp_device(m);
    soma_tensor *x, *d;
    ck_soma(soma_tensor_create(dev, ROWS, soma_mlp_inputs(m), &x));
    ck_soma(soma_tensor_create(dev, ROWS, soma_mlp_outputs(m), &d));
    for (int s = 0; s < steps; s++) {
        soma_rng rng = soma_rng_make(TEST_SEED + 10 + (uint64_t)s);
        ck_soma(soma_tensor_fill_normal(x, &rng, 0.0f, 1.0f));
        rng.offset = 99;
        ck_soma(soma_tensor_fill_normal(d, &rng, 0.0f, 0.1f));
        const soma_tensor *out;
        soma_rng drop = {TEST_SEED, (uint64_t)s * SOMA_MAX_LAYERS};
        ck_soma(soma_mlp_forward(m, x, 1, drop, &out));
        ck_soma(soma_mlp_backward(m, x, d));
        ck_soma(soma_optimizer_step(o));
    }
    soma_tensor_free(x);
    soma_tensor_free(d);
}

static void ck_same_tensor(soma_tensor *a, soma_tensor *b, const char *name) {
    int64_t n = soma_tensor_numel(a);
    ck_assert_int_eq(n, soma_tensor_numel(b));
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    ck_soma(soma_tensor_download(a, x, (size_t)n));
    ck_soma(soma_tensor_download(b, y, (size_t)n));
    ck_assert_msg(memcmp(x, y, (size_t)n * sizeof *x) == 0, "%s differs after the round trip", name);
    free(x);
    free(y);
}

static char path[64];

START_TEST(checkpoint_round_trip_of_every_kind) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL, *back = NULL;
    ck_soma(soma_mlp_create_arch(cpu, every_kind, &m));
    ck_soma(soma_mlp_init(m, SOMA_INIT_AUTO, TEST_SEED));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    soma_optimizer *o = NULL, *o2 = NULL;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    train_steps(m, o, 3);
    soma_checkpoint_info info = {.loss = SOMA_LOSS_MSE, .has_optimizer = 1, .train = {.batch = ROWS, .epochs = 1}};
    ck_soma(soma_checkpoint_save(path, m, o, &info));
    soma_checkpoint_info got;
    ck_soma(soma_checkpoint_load(path, cpu, &back, &got));
    char a[SOMA_ARCH_MAX], b[SOMA_ARCH_MAX];
    ck_soma(soma_mlp_arch(m, a, sizeof a));
    ck_soma(soma_mlp_arch(back, b, sizeof b));
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(soma_mlp_param_count(m), soma_mlp_param_count(back));
    int counters = 0;
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i), q = soma_mlp_param(back, i);
        ck_assert_str_eq(p.name, q.name);
        if (p.count) {
            ck_assert_int_eq(*p.count, 3); /* three training forwards */
            ck_assert_int_eq(*q.count, *p.count);
            counters++;
        } else {
            ck_same_tensor(p.value, q.value, p.name);
        }
    }
    ck_assert_int_eq(counters, 1);
    ck_assert_ptr_null(soma_mlp_weight(back, 1)); /* not dense */
    ck_assert_ptr_nonnull(soma_mlp_weight(back, 5));
    ck_soma(soma_optimizer_create(back, &oc, &o2));
    ck_soma(soma_checkpoint_load_optimizer(path, o2));
    ck_assert_int_eq(soma_optimizer_steps(o2), 3);
    ck_assert_int_eq(soma_optimizer_param_count(o2), soma_optimizer_param_count(o));
    for (int p = 0; p < soma_optimizer_param_count(o); p++)
        for (int s = 0; s < 2; s++)
            ck_same_tensor(soma_optimizer_state(o, p, s), soma_optimizer_state(o2, p, s), soma_optimizer_param(o, p).name);
    /* and both continue the same: one more step on each, then the same weights */
    train_steps(m, o, 1);
    train_steps(back, o2, 1);
    for (int i = 0; i < soma_mlp_param_count(m); i++)
        if (soma_mlp_param(m, i).value)
            ck_same_tensor(soma_mlp_param(m, i).value, soma_mlp_param(back, i).value, soma_mlp_param(m, i).name);
    soma_checkpoint_info_free(&got);
    soma_optimizer_free(o);
    soma_optimizer_free(o2);
    soma_mlp_free(m);
    soma_mlp_free(back);
    soma_device_close(cpu);
    unlink(path);
}
END_TEST

/* Writes m's tensors as a plain state dict (no metadata), as
 * safetensors.torch.save_file writes a module's state_dict(): `skip` left
 * out, `extra` added, `reshape` written with one more row or column. */
static void write_state_dict(soma_mlp *m, const char *skip, const char *extra, const char *reshape) {
    soma_st_tensor t[64];
    float *buffers[64];
    int64_t counters[64];
    int n = 0;
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        if (skip && strcmp(p.name, skip) == 0) continue;
        t[n] = (soma_st_tensor){.name = p.name, .rank = p.rank};
        buffers[n] = NULL;
        if (p.count) {
            counters[n] = *p.count;
            t[n].ints = &counters[n];
            t[n].shape[0] = 1;
        } else {
            int64_t rows = soma_tensor_rows(p.value), cols = soma_tensor_cols(p.value);
            int64_t size = rows * cols + rows + cols + 1;
            buffers[n] = calloc((size_t)size, sizeof(float));
            ck_soma(soma_tensor_download(p.value, buffers[n], (size_t)(rows * cols)));
            t[n].data = buffers[n];
            t[n].shape[0] = p.rank == 1 ? cols : rows;
            t[n].shape[1] = p.rank == 1 ? 0 : cols;
            if (reshape && strcmp(p.name, reshape) == 0) t[n].shape[0]++;
        }
        n++;
    }
    float one = 1.0f;
    if (extra) {
        buffers[n] = NULL;
        t[n++] = (soma_st_tensor){.name = extra, .rank = 1, .shape = {1, 0}, .data = &one};
    }
    ck_soma(soma_safetensors_write(path, t, n, NULL, 0));
    for (int i = 0; i < n; i++) free(buffers[i]);
}

START_TEST(plain_state_dict_loads_and_mismatches_are_named) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL, *fresh = NULL;
    ck_soma(soma_mlp_create_arch(cpu, every_kind, &m));
    randomize(m, TEST_SEED + 5);
    soma_param counter = soma_mlp_param(m, 6); /* layers.1.num_batches_tracked */
    ck_assert_ptr_nonnull(counter.count);
    *counter.count = 42;
    write_state_dict(m, NULL, NULL, NULL);
    ck_soma(soma_mlp_create_arch(cpu, every_kind, &fresh));
    ck_soma(soma_checkpoint_load_weights(path, fresh));
    for (int i = 0; i < soma_mlp_param_count(m); i++)
        if (soma_mlp_param(m, i).value)
            ck_same_tensor(soma_mlp_param(m, i).value, soma_mlp_param(fresh, i).value, soma_mlp_param(m, i).name);
    ck_assert_int_eq(*soma_mlp_param(fresh, 6).count, 42);
    /* a plain state dict has no architecture: it is no model by itself */
    soma_mlp *none = (soma_mlp *)1;
    soma_checkpoint_info info;
    ck_fails(soma_checkpoint_load(path, cpu, &none, &info), SOMA_ERR_FORMAT, "metadata format is '(none)'",
             "a plain state dict loads into a model of its architecture");
    /* the first missing, mis-shaped or extra key, named */
    write_state_dict(m, "layers.1.running_var", NULL, NULL);
    ck_fails(soma_checkpoint_load_weights(path, fresh), SOMA_ERR_FORMAT,
             "the state dict has no tensor 'layers.1.running_var' [9]", "(missing key)");
    write_state_dict(m, NULL, NULL, "layers.2.fc1.weight");
    ck_fails(soma_checkpoint_load_weights(path, fresh), SOMA_ERR_SHAPE,
             "tensor 'layers.2.fc1.weight' has shape [6, 9] but the architecture", "needs [5, 9] (mis-shaped key)");
    write_state_dict(m, NULL, "layers.9.weight", NULL);
    ck_fails(soma_checkpoint_load_weights(path, fresh), SOMA_ERR_FORMAT,
             "tensor 'layers.9.weight' of the state dict is not in the architecture", "(extra key)");
    write_state_dict(m, "layers.4.proj.weight", NULL, NULL);
    ck_fails(soma_checkpoint_load_weights(path, fresh), SOMA_ERR_FORMAT, "'layers.4.proj.weight' [3, 9]",
             "(missing key)");
    soma_mlp_free(m);
    soma_mlp_free(fresh);
    soma_device_close(cpu);
    unlink(path);
}
END_TEST

int main(void) {
    snprintf(path, sizeof path, "/tmp/soma_test_layers_%d.safetensors", (int)getpid());
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, gradients_match_central_differences, 0,
                        (int)(sizeof grad_archs / sizeof grad_archs[0]));
    tcase_add_test(tc, batchnorm_running_statistics_follow_pytorch);
    tcase_add_test(tc, residual_blocks_count_their_dead_hidden_units);
    tcase_add_test(tc, arch_canonical_form_round_trips);
    tcase_add_test(tc, arch_errors_name_the_token_and_position);
    tcase_add_test(tc, checkpoint_round_trip_of_every_kind);
    tcase_add_test(tc, plain_state_dict_loads_and_mismatches_are_named);
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_FORK);
    soma_shutdown();
    return code;
}
