/* test_grad.c: every backward op against central finite differences of its
 * forward op, for the objective phi(x) = sum(G * forward(x)) with a random
 * upstream gradient G (G = 1 for the scalar losses).
 *   - float64: the reference backward against differences of the reference
 *     forward (step 1e-6; agreement to NMSE 1e-8);
 *   - float32: the CPU backend's backward against differences of the CPU
 *     forward (step 4e-3; agreement to NMSE 1e-3, float noise over the step).
 * Inputs that feed kinks (relu at 0) are kept 0.1 away from them. A forward
 * op with several outputs is differentiated through its first; the others
 * (bias_act_dropout's z and mask) feed its backward.
 * A backward op with several outputs (batchnorm's and layernorm's dx, dgamma,
 * dbeta) is checked once per output: output o against differences in the
 * forward's input grad_wrt + o (op_table.h).
 * A dense layer y = act(x W + b), whose gradients are GEMMs, is checked too. */
#include <math.h>
#include <string.h>

#include "core/backend.h"
#include "core/op_check.h"
#include "test_util.h"

#define STEP64 1e-6
#define LIMIT64 1e-8
#define STEP32 4e-3
#define LIMIT32 1e-3

static const int64_t grad_shapes[][2] = {{1, 1}, {7, 13}, {5, 3}};

static double nmse64(const double *a, const double *b, int64_t n) {
    double err = 0.0, norm = 0.0;
    for (int64_t i = 0; i < n; i++) {
        err += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
    }
    return norm > 0.0 ? err / norm : err;
}

typedef struct grad_problem {
    const soma_op_desc *bwd, *fwd;
    soma_op_id fwd_id;
    soma_op_params p;
    soma_shape in_shape[SOMA_MAX_IN], out_shapes[SOMA_MAX_OUT], out_shape;
    double *x[SOMA_MAX_IN]; /* forward inputs */
    double *g;              /* upstream gradient, out_shape */
    int uses_dout;
} grad_problem;

static int64_t count(soma_shape s) { return s.rows * s.cols; }

static void problem_make(grad_problem *gp, soma_op_id bwd, int64_t m, int64_t n) {
    memset(gp, 0, sizeof *gp);
    gp->bwd = &soma_op_table[bwd];
    gp->fwd_id = (soma_op_id)gp->bwd->grad_of;
    gp->fwd = &soma_op_table[gp->fwd_id];
    if (gp->bwd->n_test_params) gp->p = gp->bwd->test_params[0];
    soma_op_test_shapes(gp->fwd_id, &gp->p, m, n, 1, gp->in_shape, gp->out_shapes);
    gp->out_shape = gp->out_shapes[0]; /* the output differentiated; others are kept for backward */
    for (int i = 0; i < gp->fwd->n_in; i++) {
        int64_t c = count(gp->in_shape[i]);
        float *tmp = malloc((size_t)c * sizeof *tmp);
        gp->x[i] = malloc((size_t)c * sizeof(double));
        soma_check_make_input(gp->fwd->kind[i], TEST_SEED, i, tmp, c, gp->in_shape[0].cols);
        for (int64_t j = 0; j < c; j++) {
            double v = tmp[j];
            if (gp->fwd->kind[i] == SOMA_IN_NORMAL) v = v < 0 ? v - 0.1 : v + 0.1; /* off kinks */
            gp->x[i][j] = (float)v; /* representable in float for the float32 pass */
        }
        free(tmp);
    }
    for (int i = 0; i < gp->bwd->n_in; i++) gp->uses_dout |= gp->bwd->grad_src[i] == SOMA_FROM_DOUT;
    int64_t c = count(gp->out_shape);
    float *tmp = malloc((size_t)c * sizeof *tmp);
    gp->g = malloc((size_t)c * sizeof(double));
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 7, tmp, c, 0);
    for (int64_t j = 0; j < c; j++) gp->g[j] = gp->uses_dout ? tmp[j] : 1.0;
    free(tmp);
}

static void problem_free(grad_problem *gp) {
    for (int i = 0; i < SOMA_MAX_IN; i++) free(gp->x[i]);
    free(gp->g);
}

/* ---- float64: reference against reference -------------------------------- */

/* The forward's outputs: y (differentiated) and those kept for the backward
 * (z, a mask, statistics that start at 0). */
typedef struct ref_outputs {
    double *out[SOMA_MAX_OUT];
} ref_outputs;

static void ref_outputs_make(const grad_problem *gp, ref_outputs *r) {
    for (int o = 0; o < gp->fwd->n_out; o++) r->out[o] = calloc((size_t)count(gp->out_shapes[o]), sizeof(double));
}

static void ref_outputs_free(const grad_problem *gp, ref_outputs *r) {
    for (int o = 0; o < gp->fwd->n_out; o++) free(r->out[o]);
}

static void ref_forward(const grad_problem *gp, ref_outputs *r) {
    soma_ref_call rc = {.op = gp->fwd_id, .p = gp->p};
    for (int i = 0; i < gp->fwd->n_in; i++) {
        rc.in[i] = gp->x[i];
        rc.in_shape[i] = gp->in_shape[i];
    }
    for (int o = 0; o < gp->fwd->n_out; o++) {
        rc.out[o] = r->out[o];
        rc.out_shape[o] = gp->out_shapes[o];
    }
    gp->fwd->reference(&rc);
}

static double ref_phi(const grad_problem *gp, ref_outputs *r) {
    ref_forward(gp, r);
    double phi = 0.0;
    for (int64_t j = 0; j < count(gp->out_shape); j++) phi += gp->g[j] * r->out[0][j];
    return phi;
}

/* Which forward output a backward input of source src is, or -1 */
static int forward_output(soma_grad_source src) {
    return src == SOMA_FROM_FWD_OUT ? 0 : src == SOMA_FROM_FWD_OUT1 ? 1 : src == SOMA_FROM_FWD_OUT2 ? 2 : -1;
}

/* Each output of each backward op, found in the op table; loop tests index
 * this list. */
typedef struct grad_case {
    soma_op_id op;
    int out; /* the backward's output checked: the gradient of forward input grad_wrt + out */
} grad_case;
static grad_case grad_cases[SOMA_OP_COUNT * SOMA_MAX_OUT];
static int n_grad_cases;

START_TEST(reference_backward_matches_differences) {
    soma_op_id op = grad_cases[_i].op;
    const int which = grad_cases[_i].out;
    for (int s = 0; s < 3; s++) {
        grad_problem gp;
        problem_make(&gp, op, grad_shapes[s][0], grad_shapes[s][1]);
        int w = gp.bwd->grad_wrt + which;
        int64_t nw = count(gp.in_shape[w]);
        ref_outputs y;
        ref_outputs_make(&gp, &y);
        double *fd = malloc((size_t)nw * sizeof *fd), *analytic = malloc((size_t)nw * sizeof *analytic);
        for (int64_t j = 0; j < nw; j++) {
            double keep = gp.x[w][j];
            gp.x[w][j] = keep + STEP64;
            double up = ref_phi(&gp, &y);
            gp.x[w][j] = keep - STEP64;
            double down = ref_phi(&gp, &y);
            gp.x[w][j] = keep;
            fd[j] = (up - down) / (2 * STEP64);
        }
        ref_outputs_free(&gp, &y);
        ref_outputs_make(&gp, &y); /* statistics the forward accumulates start again at 0 */
        ref_forward(&gp, &y);
        /* every output of the backward; `which` is compared */
        soma_ref_call rc = {.op = op, .p = gp.p};
        double *outs[SOMA_MAX_OUT] = {NULL};
        for (int o = 0; o < gp.bwd->n_out; o++) {
            soma_shape sh = gp.in_shape[gp.bwd->grad_wrt + o];
            outs[o] = o == which ? analytic : calloc((size_t)count(sh), sizeof(double));
            rc.out[o] = outs[o];
            rc.out_shape[o] = sh;
        }
        for (int i = 0; i < gp.bwd->n_in; i++) {
            soma_grad_source src = gp.bwd->grad_src[i];
            int o = forward_output(src);
            rc.in[i] = o >= 0 ? y.out[o] : src == SOMA_FROM_DOUT ? gp.g : gp.x[src];
            rc.in_shape[i] = o >= 0 ? gp.out_shapes[o] : src == SOMA_FROM_DOUT ? gp.out_shape : gp.in_shape[src];
        }
        gp.bwd->reference(&rc);
        for (int o = 0; o < gp.bwd->n_out; o++)
            if (o != which) free(outs[o]);
        double e = nmse64(analytic, fd, nw);
        ck_assert_msg(e <= LIMIT64, "%s reference, output '%s', at %lldx%lld, seed %llu: NMSE %.3e vs differences",
                      gp.bwd->name, gp.bwd->arg[gp.bwd->n_in + which], (long long)grad_shapes[s][0],
                      (long long)grad_shapes[s][1], TEST_SEED, e);
        ref_outputs_free(&gp, &y);
        free(fd), free(analytic);
        problem_free(&gp);
    }
}
END_TEST

/* ---- float32: the CPU backend against itself ------------------------------ */

static soma_tensor *upload64(soma_device *dev, soma_shape s, const double *v) {
    soma_tensor *t = NULL;
    float *tmp = malloc((size_t)count(s) * sizeof *tmp);
    for (int64_t j = 0; j < count(s); j++) tmp[j] = (float)v[j];
    ck_soma(soma_tensor_create(dev, s.rows, s.cols, &t));
    ck_soma(soma_tensor_upload(t, tmp, (size_t)count(s)));
    free(tmp);
    return t;
}

static double cpu_phi(const grad_problem *gp, soma_tensor *const in[], soma_tensor *const out[],
                      float *host_y) {
    soma_tensor *y = out[0];
    soma_op_call call = {.op = gp->fwd_id, .p = gp->p};
    for (int i = 0; i < gp->fwd->n_in; i++) call.in[i] = in[i];
    for (int o = 0; o < gp->fwd->n_out; o++) call.out[o] = out[o];
    ck_soma(soma_op_run(&call, NULL));
    ck_soma(soma_tensor_download(y, host_y, (size_t)count(gp->out_shape)));
    double phi = 0.0;
    for (int64_t j = 0; j < count(gp->out_shape); j++) phi += gp->g[j] * host_y[j];
    return phi;
}

START_TEST(cpu_backward_matches_differences) {
    soma_op_id op = grad_cases[_i].op;
    const int which = grad_cases[_i].out;
    soma_device *cpu = test_open("cpu");
    for (int s = 0; s < 3; s++) {
        grad_problem gp;
        problem_make(&gp, op, grad_shapes[s][0], grad_shapes[s][1]);
        int w = gp.bwd->grad_wrt + which;
        int64_t nw = count(gp.in_shape[w]), ny = count(gp.out_shape);
        soma_tensor *in[SOMA_MAX_IN] = {NULL}, *y[SOMA_MAX_OUT] = {NULL}, *g = upload64(cpu, gp.out_shape, gp.g);
        soma_tensor *dx[SOMA_MAX_OUT] = {NULL};
        for (int i = 0; i < gp.fwd->n_in; i++) in[i] = upload64(cpu, gp.in_shape[i], gp.x[i]);
        for (int o = 0; o < gp.fwd->n_out; o++) {
            ck_soma(soma_tensor_create(cpu, gp.out_shapes[o].rows, gp.out_shapes[o].cols, &y[o]));
            ck_soma(soma_tensor_fill(y[o], 0.0f)); /* statistics the forward accumulates start at 0 */
        }
        for (int o = 0; o < gp.bwd->n_out; o++) {
            soma_shape sh = gp.in_shape[gp.bwd->grad_wrt + o];
            ck_soma(soma_tensor_create(cpu, sh.rows, sh.cols, &dx[o]));
        }
        float *host_y = malloc((size_t)ny * sizeof *host_y), *host_dx = malloc((size_t)nw * sizeof *host_dx);
        double *fd = malloc((size_t)nw * sizeof *fd), *analytic = malloc((size_t)nw * sizeof *analytic);
        for (int64_t j = 0; j < nw; j++) {
            double keep = gp.x[w][j];
            gp.x[w][j] = keep + STEP32;
            soma_tensor_free(in[w]);
            in[w] = upload64(cpu, gp.in_shape[w], gp.x[w]);
            double up = cpu_phi(&gp, in, y, host_y);
            gp.x[w][j] = keep - STEP32;
            soma_tensor_free(in[w]);
            in[w] = upload64(cpu, gp.in_shape[w], gp.x[w]);
            double down = cpu_phi(&gp, in, y, host_y);
            gp.x[w][j] = keep;
            soma_tensor_free(in[w]);
            in[w] = upload64(cpu, gp.in_shape[w], gp.x[w]);
            fd[j] = (up - down) / (2 * STEP32);
        }
        cpu_phi(&gp, in, y, host_y); /* y = forward(x) for backward ops that take it */
        soma_op_call call = {.op = op, .p = gp.p};
        for (int o = 0; o < gp.bwd->n_out; o++) call.out[o] = dx[o];
        for (int i = 0; i < gp.bwd->n_in; i++) {
            soma_grad_source src = gp.bwd->grad_src[i];
            int o = forward_output(src);
            call.in[i] = o >= 0 ? y[o] : src == SOMA_FROM_DOUT ? g : in[src];
        }
        ck_soma(soma_op_run(&call, NULL));
        ck_soma(soma_tensor_download(dx[which], host_dx, (size_t)nw));
        for (int64_t j = 0; j < nw; j++) analytic[j] = host_dx[j];
        double e = nmse64(analytic, fd, nw);
        ck_assert_msg(e <= LIMIT32, "%s on cpu, output '%s', at %lldx%lld, seed %llu: NMSE %.3e vs differences",
                      gp.bwd->name, gp.bwd->arg[gp.bwd->n_in + which], (long long)grad_shapes[s][0],
                      (long long)grad_shapes[s][1], TEST_SEED, e);
        for (int i = 0; i < SOMA_MAX_IN; i++) soma_tensor_free(in[i]);
        for (int o = 0; o < SOMA_MAX_OUT; o++) soma_tensor_free(y[o]);
        for (int o = 0; o < SOMA_MAX_OUT; o++) soma_tensor_free(dx[o]);
        soma_tensor_free(g);
        free(host_y), free(host_dx), free(fd), free(analytic);
        problem_free(&gp);
    }
    soma_device_close(cpu);
}
END_TEST

/* ---- a dense layer: y = tanh(x W + b), phi = sum(G * y) --------------------
 * dZ = G * tanh'(Z), dW = x^T dZ, db = colsum(dZ), dx = dZ W^T: every GEMM
 * transposition the training loop uses. */
START_TEST(dense_layer_gradients_match_differences) {
    enum { M = 7, K = 5, N = 3 };
    soma_device *cpu = test_open("cpu");
    float x[M * K], w[K * N], b[N], g[M * N];
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 0, x, M * K, 0);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 1, w, K * N, 0);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 2, b, N, 0);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 3, g, M * N, 0);
    soma_tensor *tx, *tw, *tb, *tg, *z, *y, *dz, *dw, *db, *dx;
    soma_tensor **all[] = {&tx, &tw, &tb, &tg, &z, &y, &dz, &dw, &db, &dx};
    const int64_t dims[][2] = {{M, K}, {K, N}, {1, N}, {M, N}, {M, N}, {M, N}, {M, N}, {K, N}, {1, N}, {M, K}};
    for (int i = 0; i < 10; i++) ck_soma(soma_tensor_create(cpu, dims[i][0], dims[i][1], all[i]));
    float *params[] = {x, w, b};
    soma_tensor *grads[] = {dx, dw, db};
    const int sizes[] = {M * K, K * N, N};
    ck_soma(soma_tensor_upload(tg, g, M * N));
    for (int which = 0; which < 3; which++) {
        for (int j = 0; j < sizes[which]; j++) {
            double phi[2];
            float keep = params[which][j];
            for (int side = 0; side < 2; side++) {
                params[which][j] = keep + (side ? -1.0f : 1.0f) * (float)STEP32;
                ck_soma(soma_tensor_upload(tx, x, M * K));
                ck_soma(soma_tensor_upload(tw, w, K * N));
                ck_soma(soma_tensor_upload(tb, b, N));
                ck_soma(soma_gemm(0, 0, 1.0f, tx, tw, 0.0f, z));
                ck_soma(soma_bias_add(z, tb, z));
                ck_soma(soma_activation_forward(SOMA_ACT_TANH, 0.0f, z, y));
                float out[M * N];
                ck_soma(soma_tensor_download(y, out, M * N));
                phi[side] = 0.0;
                for (int t = 0; t < M * N; t++) phi[side] += (double)g[t] * out[t];
            }
            params[which][j] = keep;
            double fd = (phi[0] - phi[1]) / (2 * STEP32);
            ck_soma(soma_tensor_upload(tx, x, M * K));
            ck_soma(soma_tensor_upload(tw, w, K * N));
            ck_soma(soma_tensor_upload(tb, b, N));
            ck_soma(soma_gemm(0, 0, 1.0f, tx, tw, 0.0f, z));
            ck_soma(soma_bias_add(z, tb, z));
            ck_soma(soma_activation_forward(SOMA_ACT_TANH, 0.0f, z, y));
            ck_soma(soma_activation_backward(SOMA_ACT_TANH, 0.0f, z, y, tg, dz));
            ck_soma(soma_gemm(1, 0, 1.0f, tx, dz, 0.0f, dw));
            ck_soma(soma_bias_grad(dz, db));
            ck_soma(soma_gemm(0, 1, 1.0f, dz, tw, 0.0f, dx));
            float analytic[M * K];
            ck_soma(soma_tensor_download(grads[which], analytic, (size_t)sizes[which]));
            ck_assert_msg(fabs(analytic[j] - fd) <= 2e-3 * (1.0 + fabs(fd)),
                          "dense layer d%s[%d], seed %llu: backward %g, differences %g",
                          which == 0 ? "x" : which == 1 ? "W" : "b", j, TEST_SEED, analytic[j], fd);
        }
    }
    for (int i = 0; i < 10; i++) soma_tensor_free(*all[i]);
    soma_device_close(cpu);
}
END_TEST

int main(void) {
    int n_backward_ops = 0;
    for (int op = 0; op < SOMA_OP_COUNT; op++) {
        if (soma_op_table[op].grad_of < 0) continue;
        n_backward_ops++;
        for (int o = 0; o < soma_op_table[op].n_out; o++)
            grad_cases[n_grad_cases++] = (grad_case){(soma_op_id)op, o};
    }
    printf("test_grad: seed %llu, %d backward ops, %d gradients\n", TEST_SEED, n_backward_ops, n_grad_cases);
    Suite *s = suite_create("grad");
    TCase *ref = tcase_create("reference");
    tcase_add_loop_test(ref, reference_backward_matches_differences, 0, n_grad_cases);
    suite_add_tcase(s, ref);
    TCase *cpu = tcase_create("cpu");
    tcase_set_timeout(cpu, 60);
    tcase_add_loop_test(cpu, cpu_backward_matches_differences, 0, n_grad_cases);
    tcase_add_test(cpu, dense_layer_gradients_match_differences);
    suite_add_tcase(s, cpu);
    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK);
}
