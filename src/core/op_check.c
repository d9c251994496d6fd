/* op_check.c: the engine behind the op tests and `soma check` (op_check.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/op_check.h"
#include "core/philox.h"
#include "core/step_ctl.h"

#define GUARD 64 /* sentinel floats on each side of every tensor */

const soma_check_shape soma_check_shapes[SOMA_CHECK_SHAPE_COUNT] = {
    {1, 1, 1, 0},   {7, 13, 5, 0},          {129, 257, 65, 0},
    {3, 100000, 1, 0}, {1024, 1024, 256, 1}, {1, 1000000, 1, 1},
};

static const soma_op_params *params_of(const soma_check_case *c) {
    static const soma_op_params none;
    const soma_op_desc *d = &soma_op_table[c->op];
    return d->n_test_params ? &d->test_params[c->param_index] : &none;
}

/* A step control block (core/step_ctl.h) at clock 1 and step 3 with a
 * plausible learning rate, corrections and gradient scale drawn from u[]. */
static void make_step_ctl(const float u[4], float *ctl) {
    for (int i = 0; i < SOMA_CTL_SIZE; i++) ctl[i] = 0.0f;
    soma_ctl_set_count(ctl + SOMA_CTL_CLOCK, 1);
    soma_ctl_set_count(ctl + SOMA_CTL_STEP, 3);
    ctl[SOMA_CTL_LR] = 1e-3f + 1e-2f * u[0];
    ctl[SOMA_CTL_BC1] = 1.0f + 3.0f * u[1];
    ctl[SOMA_CTL_BC2] = 1.0f + 400.0f * u[2];
    ctl[SOMA_CTL_SCALE] = 0.5f + 0.5f * u[3];
}

void soma_check_make_input(soma_input_kind kind, uint64_t seed, int index, float *values,
                           int64_t count, int64_t label_classes) {
    if (kind == SOMA_IN_STEP_CTL || kind == SOMA_IN_SCHEDULE) {
        /* whole rows of a block or a schedule, each from its Philox block */
        const int64_t cols = kind == SOMA_IN_STEP_CTL ? SOMA_CTL_SIZE : SOMA_SCHED_COLS;
        for (int64_t row = 0; row * cols < count; row++) {
            soma_philox4 r = soma_philox_block(seed, 3000u + (uint64_t)index, (uint64_t)row);
            float u[4], *v = values + row * cols;
            for (int lane = 0; lane < 4; lane++) u[lane] = soma_u32_to_unit(r.v[lane]);
            if (kind == SOMA_IN_STEP_CTL) {
                make_step_ctl(u, v);
                continue;
            }
            v[SOMA_SCHED_LR] = 1e-3f + 1e-2f * u[0];
            v[SOMA_SCHED_BC1] = 1.0f + 3.0f * u[1];
            v[SOMA_SCHED_BC2] = 1.0f + 400.0f * u[2];
            soma_ctl_set_count(v + SOMA_SCHED_STEP, row + 1);
        }
        return;
    }
    /* Stream `index` keeps the inputs of one case independent. One Philox
     * call gives four words: four uniforms, four raw words (mask bits), or
     * two Box-Muller pairs of normals (with libm's logf, cosf, sinf: test
     * inputs need to be reproducible from the seed, not bit-identical across
     * devices, since both devices receive the same uploaded values). */
    const uint64_t stream = (kind == SOMA_IN_NORMAL ? 2000u : 1000u) + (uint64_t)index;
    for (int64_t i0 = 0; i0 < count; i0 += 4) {
        soma_philox4 r = soma_philox_block(seed, stream, (uint64_t)i0 >> 2);
        float quad[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int lane = 0; lane < 4; lane++) {
            float u = soma_u32_to_unit(r.v[lane]); /* [0, 1) */
            switch (kind) {
            case SOMA_IN_POSITIVE: quad[lane] = 0.5f + u; break;
            case SOMA_IN_PROB: quad[lane] = u; break;
            case SOMA_IN_LABELS: /* fall through */
            case SOMA_IN_ROW_INDEX: quad[lane] = floorf(u * (float)label_classes); break;
            case SOMA_IN_BITS: memcpy(&quad[lane], &r.v[lane], sizeof quad[lane]); break; /* NaNs too */
            case SOMA_IN_SMALL_INT: quad[lane] = floorf(u * 7.0f) - 3.0f; break;
            case SOMA_IN_HALF_INT: quad[lane] = floorf(u * 7.0f) - 2.5f; break;
            default: break;
            }
        }
        if (kind == SOMA_IN_NORMAL)
            for (int pair = 0; pair < 4; pair += 2) {
                float u1 = (float)((r.v[pair] >> 8) + 1u) * 0x1p-24f; /* (0, 1] */
                float u2 = soma_u32_to_unit(r.v[pair + 1]);
                float radius = sqrtf(-2.0f * logf(u1)), angle = 6.28318531f * u2;
                quad[pair] = radius * cosf(angle);
                quad[pair + 1] = radius * sinf(angle);
            }
        /* memcpy: a float assignment may quiet a signalling NaN, a mask word's bits */
        for (int lane = 0; lane < 4 && i0 + lane < count; lane++)
            memcpy(&values[i0 + lane], &quad[lane], sizeof quad[lane]);
    }
}

double soma_nmse(const float *a, const double *b, int64_t count) {
    double err = 0.0, norm = 0.0;
    for (int64_t i = 0; i < count; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            if (isnan(a[i]) && isnan(b[i])) continue;
            return INFINITY;
        }
        double d = (double)a[i] - b[i];
        err += d * d;
        norm += b[i] * b[i];
    }
    return norm > 0.0 ? err / norm : err;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* A value as the float64 reference takes it: a mask word as its integer. */
static double widen(float f, int is_bits) { return is_bits ? (double)bits_of(f) : (double)f; }

/* One case's host data: inputs, the outputs' initial values, shapes. */
typedef struct case_data {
    const soma_op_desc *desc;
    soma_op_params p;
    soma_shape in_shape[SOMA_MAX_IN], out_shape[SOMA_MAX_OUT];
    float *in[SOMA_MAX_IN], *out_init[SOMA_MAX_OUT];
    int64_t out_total; /* elements of all outputs together */
} case_data;

static int64_t numel(soma_shape s) { return s.rows * s.cols; }

static void case_data_free(case_data *cd) {
    for (int i = 0; i < SOMA_MAX_IN; i++) free(cd->in[i]);
    for (int o = 0; o < SOMA_MAX_OUT; o++) free(cd->out_init[o]);
}

/* A backward op's input that is the forward output y (activations, softmax)
 * must be y = forward(x), not free noise: tanh' is computed from y. The
 * forward reference makes it from the backward op's inputs that are forward
 * inputs; a forward input the backward op does not take (softmax's x) is the
 * random content of the y slot. */
static soma_status make_forward_outputs(case_data *cd) {
    const soma_op_desc *bwd = cd->desc, *fwd = &soma_op_table[bwd->grad_of];
    int y_index = -1;
    for (int i = 0; i < bwd->n_in; i++)
        if (bwd->grad_src[i] == SOMA_FROM_FWD_OUT) y_index = i;
    if (y_index < 0) return SOMA_OK;
    int64_t per = numel(cd->in_shape[y_index]); /* every forward input has y's shape here */
    double *wide = malloc((size_t)(per * (fwd->n_in + 1)) * sizeof *wide);
    if (!wide) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "op_check: out of host memory");
    soma_ref_call rc = {.op = bwd->grad_of, .p = cd->p};
    for (int k = 0; k < fwd->n_in; k++) {
        const float *source = cd->in[y_index];
        for (int i = 0; i < bwd->n_in; i++)
            if ((int)bwd->grad_src[i] == k) source = cd->in[i];
        for (int64_t j = 0; j < per; j++) wide[k * per + j] = source[j];
        rc.in[k] = wide + k * per;
        rc.in_shape[k] = cd->in_shape[y_index];
    }
    rc.out[0] = wide + fwd->n_in * per;
    rc.out_shape[0] = cd->in_shape[y_index];
    fwd->reference(&rc);
    for (int64_t j = 0; j < per; j++) cd->in[y_index][j] = (float)rc.out[0][j];
    free(wide);
    return SOMA_OK;
}

/* The last case checked, its inputs and expected outputs: callers check
 * every variant of an op at one shape in a row, against the same reference
 * or base device, so inputs and expectations are computed once (the
 * float64 GEMM at 1024x1024x256 was half of test_ops' time, making inputs
 * a quarter of test_cuda's). `source` is the base device, or NULL for the
 * reference. */
static struct {
    pthread_mutex_t lock;
    int valid;
    soma_check_case key; /* its variant is ignored */
    case_data inputs;
    int have_expected;
    const soma_device *source;
    int guards_intact; /* of the base device's run */
    double *expected;  /* inputs.out_total values */
} last = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int same_case(const soma_check_case *a, const soma_check_case *b) {
    return a->op == b->op && a->param_index == b->param_index && a->m == b->m && a->n == b->n &&
           a->k == b->k && a->seed == b->seed;
}

static float *dup_floats(const float *src, int64_t count) {
    float *copy = malloc((size_t)(count ? count : 1) * sizeof *copy);
    if (copy) memcpy(copy, src, (size_t)count * sizeof *copy);
    return copy;
}

/* A deep copy of src's arrays into dst; 0 when out of memory (dst freed). */
static int case_data_copy(const case_data *src, case_data *dst) {
    *dst = *src;
    memset(dst->in, 0, sizeof dst->in);
    memset(dst->out_init, 0, sizeof dst->out_init);
    int ok = 1;
    for (int i = 0; i < src->desc->n_in; i++)
        ok &= (dst->in[i] = dup_floats(src->in[i], numel(src->in_shape[i]))) != NULL;
    for (int o = 0; o < src->desc->n_out; o++)
        ok &= (dst->out_init[o] = dup_floats(src->out_init[o], numel(src->out_shape[o]))) != NULL;
    if (!ok) case_data_free(dst);
    return ok;
}

static int last_inputs_get(const soma_check_case *c, case_data *cd) {
    pthread_mutex_lock(&last.lock);
    int hit = last.valid && same_case(&last.key, c) && case_data_copy(&last.inputs, cd);
    pthread_mutex_unlock(&last.lock);
    return hit;
}

/* Best effort: without memory for a copy, nothing is kept. */
static void last_inputs_put(const soma_check_case *c, const case_data *cd) {
    pthread_mutex_lock(&last.lock);
    if (last.valid) case_data_free(&last.inputs);
    last.valid = case_data_copy(cd, &last.inputs);
    last.key = *c;
    last.have_expected = 0;
    pthread_mutex_unlock(&last.lock);
}

static int expected_get(const soma_check_case *c, const soma_device *source, double *out,
                        int *guards_intact) {
    pthread_mutex_lock(&last.lock);
    int hit = last.valid && last.have_expected && last.source == source && same_case(&last.key, c);
    if (hit) {
        memcpy(out, last.expected, (size_t)last.inputs.out_total * sizeof *out);
        *guards_intact = last.guards_intact;
    }
    pthread_mutex_unlock(&last.lock);
    return hit;
}

static void expected_put(const soma_check_case *c, const soma_device *source, const double *values,
                         int guards_intact) {
    pthread_mutex_lock(&last.lock);
    if (last.valid && same_case(&last.key, c)) {
        size_t bytes = (size_t)(last.inputs.out_total ? last.inputs.out_total : 1) * sizeof(double);
        double *copy = realloc(last.expected, bytes);
        last.have_expected = copy != NULL;
        if (copy) {
            memcpy(copy, values, (size_t)last.inputs.out_total * sizeof *copy);
            last.expected = copy;
            last.source = source;
            last.guards_intact = guards_intact;
        }
    }
    pthread_mutex_unlock(&last.lock);
}

static soma_status case_data_make(const soma_check_case *c, case_data *cd) {
    memset(cd, 0, sizeof *cd);
    if ((int)c->op < 0 || c->op >= SOMA_OP_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "op_check: op id %d out of range", (int)c->op);
    if (last_inputs_get(c, cd)) return SOMA_OK;
    cd->desc = &soma_op_table[c->op];
    cd->p = *params_of(c);
    soma_op_test_shapes(c->op, &cd->p, c->m, c->n, c->k, cd->in_shape, cd->out_shape);
    for (int i = 0; i < cd->desc->n_in; i++) {
        cd->in[i] = malloc((size_t)numel(cd->in_shape[i]) * sizeof(float));
        if (!cd->in[i]) goto oom;
        soma_check_make_input(cd->desc->kind[i], c->seed, i, cd->in[i], numel(cd->in_shape[i]),
                              cd->desc->kind[i] == SOMA_IN_ROW_INDEX ? cd->in_shape[0].rows
                                                                     : cd->in_shape[0].cols);
    }
    if (cd->desc->grad_of >= 0 && make_forward_outputs(cd) != SOMA_OK) goto oom;
    for (int o = 0; o < cd->desc->n_out; o++) {
        cd->out_init[o] = malloc((size_t)numel(cd->out_shape[o]) * sizeof(float));
        if (!cd->out_init[o]) goto oom;
        /* label-kind outputs (active_columns' flags) are 0/1 */
        soma_check_make_input(cd->desc->out_kind[o], c->seed, SOMA_MAX_IN + o, cd->out_init[o],
                              numel(cd->out_shape[o]), 2);
        cd->out_total += numel(cd->out_shape[o]);
    }
    last_inputs_put(c, cd);
    return SOMA_OK;
oom:
    case_data_free(cd);
    return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "op_check: out of host memory");
}

/* Uploads the inputs and initial outputs to guarded tensors on dev, runs the
 * op, downloads the outputs one after another into out (out_total floats)
 * and checks every guard. */
static soma_status run_on_device(soma_device *dev, const case_data *cd, const char *variant,
                                 float *out, int *guards_intact) {
    soma_tensor *t[SOMA_MAX_IN + SOMA_MAX_OUT] = {NULL};
    const int n_in = cd->desc->n_in, n_args = n_in + cd->desc->n_out;
    soma_op_call call = {.op = (soma_op_id)(cd->desc - soma_op_table), .p = cd->p};
    soma_status status = SOMA_OK;
    *guards_intact = 1;
    for (int a = 0; a < n_args && status == SOMA_OK; a++) {
        soma_shape shape = a < n_in ? cd->in_shape[a] : cd->out_shape[a - n_in];
        const float *init = a < n_in ? cd->in[a] : cd->out_init[a - n_in];
        status = soma_tensor_create_guarded(dev, shape.rows, shape.cols, GUARD, &t[a]);
        if (status == SOMA_OK) status = soma_tensor_upload(t[a], init, (size_t)numel(shape));
        if (a < n_in)
            call.in[a] = t[a];
        else
            call.out[a - n_in] = t[a];
    }
    if (status == SOMA_OK) status = soma_op_run(&call, variant);
    float *cursor = out;
    for (int o = 0; o < cd->desc->n_out && status == SOMA_OK; o++) {
        status = soma_tensor_download(call.out[o], cursor, (size_t)numel(cd->out_shape[o]));
        cursor += numel(cd->out_shape[o]);
    }
    for (int a = 0; a < n_args && status == SOMA_OK; a++) {
        int intact = 0;
        status = soma_tensor_guards_intact(t[a], GUARD, &intact);
        *guards_intact &= intact;
    }
    for (int a = 0; a < n_args; a++) soma_tensor_free(t[a]);
    return status;
}

/* The float64 reference's outputs, one after another (out_total values). */
static soma_status run_reference(const case_data *cd, double *ref_out) {
    int64_t n_in_total = 0;
    for (int i = 0; i < cd->desc->n_in; i++) n_in_total += numel(cd->in_shape[i]);
    double *ref_in = malloc((size_t)(n_in_total ? n_in_total : 1) * sizeof *ref_in);
    if (!ref_in) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "op_check: out of host memory");
    soma_ref_call rc = {.op = (int)(cd->desc - soma_op_table), .p = cd->p};
    double *cursor = ref_in;
    for (int i = 0; i < cd->desc->n_in; i++) {
        const int is_bits = cd->desc->kind[i] == SOMA_IN_BITS;
        for (int64_t j = 0; j < numel(cd->in_shape[i]); j++) cursor[j] = widen(cd->in[i][j], is_bits);
        rc.in[i] = cursor;
        rc.in_shape[i] = cd->in_shape[i];
        cursor += numel(cd->in_shape[i]);
    }
    cursor = ref_out;
    for (int o = 0; o < cd->desc->n_out; o++) {
        const int is_bits = (cd->desc->bits_out >> o) & 1u;
        for (int64_t j = 0; j < numel(cd->out_shape[o]); j++) cursor[j] = widen(cd->out_init[o][j], is_bits);
        rc.out[o] = cursor;
        rc.out_shape[o] = cd->out_shape[o];
        cursor += numel(cd->out_shape[o]);
    }
    cd->desc->reference(&rc);
    free(ref_in);
    return SOMA_OK;
}

/* A device's outputs as doubles (to_wide) or back (exactly: the doubles
 * came from floats); mask words as their integers, so that their bits
 * survive (a float NaN widened to double and back can lose its bits). */
static void convert_outputs(const case_data *cd, float *narrow, double *wide, int to_wide) {
    for (int o = 0; o < cd->desc->n_out; o++) {
        const int is_bits = (cd->desc->bits_out >> o) & 1u;
        const int64_t count = numel(cd->out_shape[o]);
        for (int64_t j = 0; j < count; j++) {
            if (to_wide) {
                wide[j] = widen(narrow[j], is_bits);
            } else if (is_bits) {
                uint32_t word = (uint32_t)wide[j];
                memcpy(&narrow[j], &word, sizeof word);
            } else {
                narrow[j] = (float)wide[j];
            }
        }
        narrow += count;
        wide += count;
    }
}

/* The worst NMSE over the outputs that hold values, and the words that
 * differ in the outputs that hold mask bits (b as the reference writes
 * them, or widened from another device's floats). */
static double worst_nmse(const case_data *cd, const float *a, const double *b, int64_t *bit_mismatches) {
    double worst = 0.0;
    for (int o = 0; o < cd->desc->n_out; o++) {
        const int64_t count = numel(cd->out_shape[o]);
        if ((cd->desc->bits_out >> o) & 1u) {
            for (int64_t j = 0; j < count; j++) *bit_mismatches += bits_of(a[j]) != (uint32_t)b[j];
        } else {
            double e = soma_nmse(a, b, count);
            worst = e > worst || isnan(e) ? e : worst;
        }
        a += count;
        b += count;
    }
    return worst;
}

soma_status soma_check_against_reference(soma_device *dev, const soma_check_case *c,
                                         soma_check_result *r) {
    memset(r, 0, sizeof *r);
    case_data cd;
    SOMA_TRY(case_data_make(c, &cd));
    float *out = malloc((size_t)cd.out_total * sizeof *out);
    double *ref_out = malloc((size_t)cd.out_total * sizeof *ref_out);
    soma_status status = SOMA_OK;
    if (!out || !ref_out)
        status = soma_fail(SOMA_ERR_OUT_OF_MEMORY, "op_check: out of host memory");
    if (status == SOMA_OK) status = run_on_device(dev, &cd, c->variant, out, &r->guards_intact);
    int unused;
    if (status == SOMA_OK && !expected_get(c, NULL, ref_out, &unused)) {
        status = run_reference(&cd, ref_out);
        if (status == SOMA_OK) expected_put(c, NULL, ref_out, 1);
    }
    if (status == SOMA_OK) {
        r->nmse = worst_nmse(&cd, out, ref_out, &r->bit_mismatches);
        r->limit = cd.desc->nmse_limit;
        r->passed = r->guards_intact && r->nmse <= r->limit && r->bit_mismatches == 0;
    }
    free(out);
    free(ref_out);
    case_data_free(&cd);
    return status;
}

soma_status soma_check_against_device(soma_device *dev, soma_device *base, const soma_check_case *c,
                                      soma_check_result *r) {
    memset(r, 0, sizeof *r);
    case_data cd;
    SOMA_TRY(case_data_make(c, &cd));
    int64_t n = cd.out_total;
    float *out = malloc((size_t)n * sizeof *out), *base_out = malloc((size_t)n * sizeof *base_out);
    double *base_wide = malloc((size_t)n * sizeof *base_wide);
    soma_status status = SOMA_OK;
    int base_guards = 0;
    if (!out || !base_out || !base_wide)
        status = soma_fail(SOMA_ERR_OUT_OF_MEMORY, "op_check: out of host memory");
    if (status == SOMA_OK) status = run_on_device(dev, &cd, c->variant, out, &r->guards_intact);
    if (status == SOMA_OK && expected_get(c, base, base_wide, &base_guards)) {
        convert_outputs(&cd, base_out, base_wide, 0); /* exact */
    } else if (status == SOMA_OK) {
        status = run_on_device(base, &cd, NULL, base_out, &base_guards);
        if (status == SOMA_OK) convert_outputs(&cd, base_out, base_wide, 1);
        if (status == SOMA_OK) expected_put(c, base, base_wide, base_guards);
    }
    if (status == SOMA_OK) {
        r->guards_intact &= base_guards;
        int64_t all_bits = 0, mask_bits = 0; /* values differing in any bit; mask words differing */
        for (int64_t j = 0; j < n; j++) all_bits += memcmp(&out[j], &base_out[j], sizeof(float)) != 0;
        r->nmse = worst_nmse(&cd, out, base_wide, &mask_bits);
        r->limit = cd.desc->bit_exact ? 0.0 : cd.desc->nmse_limit;
        r->bit_mismatches = cd.desc->bit_exact ? all_bits : mask_bits;
        r->passed = r->guards_intact && r->bit_mismatches == 0 && (cd.desc->bit_exact || r->nmse <= r->limit);
    }
    free(out);
    free(base_out);
    free(base_wide);
    case_data_free(&cd);
    return status;
}

void soma_check_describe_params(const soma_check_case *c, char *buf, size_t size) {
    const soma_op_params *p = params_of(c);
    const soma_op_desc *d = &soma_op_table[c->op];
    buf[0] = '\0';
    if (c->op == SOMA_OP_GEMM)
        snprintf(buf, size, "%c%c alpha=%g beta=%g%s%s", p->trans_a ? 'T' : 'N',
                 p->trans_b ? 'T' : 'N', p->alpha, p->beta, p->precision ? " " : "",
                 p->precision ? soma_precision_name((soma_precision)p->precision) : "");
    else if (c->op == SOMA_OP_FILL_UNIFORM || c->op == SOMA_OP_FILL_NORMAL)
        snprintf(buf, size, "%g,%g seed=%llu", p->alpha, p->beta, (unsigned long long)p->seed);
    else if (c->op == SOMA_OP_BIAS_ACT_DROPOUT || c->op == SOMA_OP_BIAS_ACT_DROPOUT_BACKWARD)
        snprintf(buf, size, "%s p=%g seed=%llu", soma_activation_name((soma_activation)p->act),
                 p->drop, (unsigned long long)p->seed);
    else if (d->check_params) /* the normalizations */
        snprintf(buf, size, p->momentum != 0.0f ? "eps=%g momentum=%g" : "eps=%g", p->eps, p->momentum);
    else if (d->n_test_params && (p->alpha != 0.0f || p->drop != 0.0f))
        snprintf(buf, size, p->drop != 0.0f ? "p=%g" : "alpha=%g", p->drop != 0.0f ? p->drop : p->alpha);
}
