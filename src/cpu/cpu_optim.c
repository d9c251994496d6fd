/* cpu_optim.c: optimizer updates, each one pass over parameters, gradient
 * and state (formulas in soma/ops.h), split over threads with denormals
 * flushed (cpu_parallel.h).
 *
 * The step variants (sgd_step, adam_step) take lr, Adam's corrections and a
 * gradient scale from a step control block (core/step_ctl.h).
 *
 * Adam's square root and division keep a compiler from vectorising the plain
 * loop (sqrtf may set errno), so it is written with AVX-512 and AVX2
 * intrinsics as well, picked at run time. All three versions do the same
 * float operations in the same order (no fused multiply-adds), so they give
 * the same bits as each other. */
#include <math.h>

#include "core/step_ctl.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#endif

#define ALIGN 16 /* floats: pieces of whole cache lines per thread */

typedef struct update_args update_args;
typedef void (*adam_fn)(const update_args *a, int64_t begin, int64_t end);

struct update_args {
    soma_op_params p;
    float scale;        /* the gradient's factor: 1, or the clipping scale of a step block */
    const float *g;
    float *w, *s1, *s2; /* weight; velocity, or Adam's m and v */
    adam_fn adam;       /* the Adam loop for this CPU */
};

/* g' = g + wd w;  v = momentum v + g';  w -= lr (nesterov ? g' + momentum v : v) */
SOMA_CPU_RANGE_BODY sgd_range(const void *args, int64_t begin, int64_t end) {
    const update_args *a = args;
    const soma_op_params p = a->p;
    const float *restrict g = a->g;
    float *restrict w = a->w, *restrict v = a->s1;
    if (p.nesterov) {
        for (int64_t i = begin; i < end; i++) {
            float gi = a->scale * g[i] + p.weight_decay * w[i];
            float vi = p.momentum * v[i] + gi;
            v[i] = vi;
            w[i] -= p.lr * (gi + p.momentum * vi);
        }
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        float gi = a->scale * g[i] + p.weight_decay * w[i];
        float vi = p.momentum * v[i] + gi;
        v[i] = vi;
        w[i] -= p.lr * vi;
    }
}
SOMA_CPU_RANGE_VARIANTS(sgd_range)

/* The arguments of an update: the call's scalars, or for the step ops
 * (grad, ctl) those of the step control block; 0 when the block says the
 * step is bad (no update). */
static int update_args_of(const soma_op_call *call, int n_state, update_args *a) {
    *a = (update_args){.p = call->p, .scale = 1.0f, .g = call->in[0]->data, .w = call->out[0]->data,
                       .s1 = call->out[1]->data, .s2 = n_state > 1 ? call->out[2]->data : NULL};
    if (call->op != SOMA_OP_SGD_STEP && call->op != SOMA_OP_ADAM_STEP) return 1;
    const float *ctl = call->in[1]->data;
    if (soma_ctl_count(ctl + SOMA_CTL_STATUS) != 0) return 0;
    a->p.lr = ctl[SOMA_CTL_LR];
    a->p.bias_correction1 = ctl[SOMA_CTL_BC1];
    a->p.bias_correction2 = ctl[SOMA_CTL_BC2];
    a->scale = ctl[SOMA_CTL_SCALE];
    return 1;
}

/* grad (, ctl) -> (w, v) */
CPU_KERNEL(soma_cpu_sgd_update) {
    (void)ctx;
    update_args a;
    if (update_args_of(call, 1, &a))
        soma_cpu_parallel_for(call->in[0]->rows * call->in[0]->cols, 2, ALIGN, sgd_range_variant(), &a);
    return SOMA_OK;
}
CPU_KERNEL(soma_cpu_sgd_step) { return soma_cpu_sgd_update(ctx, call); }

/* Adam on one element (the scalar path, and the vector paths' tails):
 * g' = g + wd w unless decoupled (then w -= lr wd w);
 * m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;  w -= lr (m bc1) / (sqrt(v bc2) + eps) */
static inline void adam_one(const soma_op_params *p, float scale, const float *g, float *w, float *m,
                            float *v) {
    float wi = *w, gi = scale * *g;
    if (p->decoupled)
        wi -= p->lr * p->weight_decay * wi;
    else
        gi += p->weight_decay * wi;
    float mi = p->beta1 * *m + (1.0f - p->beta1) * gi;
    float vi = p->beta2 * *v + (1.0f - p->beta2) * gi * gi;
    *m = mi;
    *v = vi;
    *w = wi - p->lr * (mi * p->bias_correction1) / (sqrtf(vi * p->bias_correction2) + p->eps);
}

static void adam_scalar(const update_args *a, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) adam_one(&a->p, a->scale, a->g + i, a->w + i, a->s1 + i, a->s2 + i);
}

#ifdef HAVE_X86_KERNELS
/* One vector width of Adam; V is the vector type, the rest its operations. */
#define ADAM_VECTOR(name, target, V, WIDTH, set1, loadu, storeu, add, sub, mul, div, sqrt)      \
    target static void name(const update_args *a, int64_t begin, int64_t end) {                 \
        const soma_op_params *p = &a->p;                                                        \
        const V lr = set1(p->lr), wd = set1(p->weight_decay), lr_wd = set1(p->lr * p->weight_decay); \
        const V b1 = set1(p->beta1), b2 = set1(p->beta2), c1 = set1(1.0f - p->beta1);           \
        const V c2 = set1(1.0f - p->beta2), eps = set1(p->eps);                                 \
        const V bc1 = set1(p->bias_correction1), bc2 = set1(p->bias_correction2);              \
        const V scale = set1(a->scale);                                                         \
        int64_t i = begin;                                                                      \
        for (; i + WIDTH <= end; i += WIDTH) {                                                  \
            V w = loadu(a->w + i), g = mul(scale, loadu(a->g + i));                             \
            if (p->decoupled)                                                                   \
                w = sub(w, mul(lr_wd, w));                                                      \
            else                                                                                \
                g = add(g, mul(wd, w));                                                         \
            V m = add(mul(b1, loadu(a->s1 + i)), mul(c1, g));                                   \
            V v = add(mul(b2, loadu(a->s2 + i)), mul(mul(c2, g), g));                           \
            storeu(a->s1 + i, m);                                                               \
            storeu(a->s2 + i, v);                                                               \
            storeu(a->w + i, sub(w, div(mul(lr, mul(m, bc1)), add(sqrt(mul(v, bc2)), eps))));    \
        }                                                                                       \
        adam_scalar(a, i, end);                                                                 \
    }

ADAM_VECTOR(adam_avx512, __attribute__((target("avx512f"))), __m512, 16, _mm512_set1_ps,
            _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps,
            _mm512_div_ps, _mm512_sqrt_ps)
ADAM_VECTOR(adam_avx2, __attribute__((target("avx2"))), __m256, 8, _mm256_set1_ps,
            _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps,
            _mm256_div_ps, _mm256_sqrt_ps)
#endif

static adam_fn pick_adam(void) {
#ifdef HAVE_X86_KERNELS
    switch (soma_cpu_isa_level()) {
    case SOMA_CPU_ISA_AVX512: return adam_avx512;
    case SOMA_CPU_ISA_AVX2: return adam_avx2;
    default: break;
    }
#endif
    return adam_scalar;
}

static void adam_range(const void *args, int64_t begin, int64_t end) {
    const update_args *a = args;
    a->adam(a, begin, end);
}

/* grad (, ctl) -> (w, m, v) */
CPU_KERNEL(soma_cpu_adam_update) {
    (void)ctx;
    update_args a;
    if (!update_args_of(call, 2, &a)) return SOMA_OK;
    a.adam = pick_adam();
    soma_cpu_parallel_for(call->in[0]->rows * call->in[0]->cols, 4, ALIGN, adam_range, &a);
    return SOMA_OK;
}
CPU_KERNEL(soma_cpu_adam_step) { return soma_cpu_adam_update(ctx, call); }
