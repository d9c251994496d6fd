/* infer.c: soma_mlp_run (soma/infer.h), the thread-safe inference call.
 *
 * Per piece of at most SOMA_RUN_ROWS rows: the rows are copied, normalized
 * on the host, uploaded into a tensor of this call and run through
 * soma_mlp_eval_forward on work tensors of this call; the model is only
 * read. A full piece and the last, shorter one each get their own tensors,
 * made once per call. CPU kernels are safe from several user threads (their
 * team bookkeeping is atomic, their packing memory per thread, and every
 * OpenMP region is the calling thread's own); a GPU device has one stream
 * and one cuBLAS/cuDNN handle, so calls there take a lock. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/mlp_internal.h"
#include "soma/infer.h"

static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER; /* non-CPU devices */

/* p = softmax(o) per row for xent, sigmoid per output for bce, in double */
static void probabilities(const float *o, int64_t rows, int64_t outputs, soma_loss loss, float *p) {
    for (int64_t i = 0; i < rows; i++, o += outputs, p += outputs) {
        if (loss == SOMA_LOSS_BCE) {
            for (int64_t j = 0; j < outputs; j++) p[j] = (float)(1.0 / (1.0 + exp(-(double)o[j])));
            continue;
        }
        double most = o[0], sum = 0.0;
        for (int64_t j = 1; j < outputs; j++) most = o[j] > most ? o[j] : most;
        for (int64_t j = 0; j < outputs; j++) sum += exp((double)o[j] - most);
        for (int64_t j = 0; j < outputs; j++) p[j] = (float)(exp((double)o[j] - most) / sum);
    }
}

typedef struct piece {
    soma_tensor *x;
    soma_mlp_eval_ws ws;
} piece;

static void piece_free(piece *p) {
    soma_tensor_free(p->x);
    p->x = NULL;
    soma_mlp_eval_ws_free(&p->ws);
}

static soma_status piece_create(const soma_mlp *m, int64_t rows, piece *p) {
    memset(p, 0, sizeof *p);
    SOMA_TRY(soma_tensor_create(soma_mlp_device(m), rows, soma_mlp_inputs(m), &p->x));
    soma_status st = soma_mlp_eval_ws_create(m, rows, &p->ws);
    if (st != SOMA_OK) piece_free(p);
    return st;
}

static soma_status check_args(const soma_mlp *m, const soma_normalizer *norm, const soma_normalizer *target_norm,
                              soma_loss loss, const float *x, int64_t rows, float *outputs, float *proba) {
    const char *api = "soma_mlp_run";
    if (!m || !x || !outputs)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api,
                         !m ? "model" : !x ? "x" : "outputs");
    if (rows < 1) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: rows = %lld must be >= 1", api, (long long)rows);
    if (norm && norm->kind != SOMA_NORM_NONE) {
        if (!norm->offset || !norm->scale)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'norm' has no offset/scale (not fitted, or freed)", api);
        if (norm->features != soma_mlp_inputs(m))
            return soma_fail(SOMA_ERR_SHAPE, "%s: 'norm' was fitted on %lld features but the model takes %lld", api,
                             (long long)norm->features, (long long)soma_mlp_inputs(m));
    }
    if (target_norm && target_norm->kind != SOMA_NORM_NONE) {
        if (loss != SOMA_LOSS_MSE)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'target_norm' is for regression (loss mse), not %s", api,
                             soma_loss_name(loss) ? soma_loss_name(loss) : "an unknown loss");
        if (!target_norm->offset || !target_norm->scale)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'target_norm' has no offset/scale (not fitted, or freed)",
                             api);
        if (target_norm->features != soma_mlp_outputs(m))
            return soma_fail(SOMA_ERR_SHAPE, "%s: 'target_norm' was fitted on %lld targets but the model has %lld "
                             "outputs", api, (long long)target_norm->features, (long long)soma_mlp_outputs(m));
    }
    if (proba && loss != SOMA_LOSS_XENT && loss != SOMA_LOSS_BCE)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'proba' needs loss xent (softmax) or bce (sigmoid), not %s", api,
                         soma_loss_name(loss) ? soma_loss_name(loss) : "an unknown loss");
    return SOMA_OK;
}

static soma_status run(const soma_mlp *m, const soma_normalizer *norm, const soma_normalizer *target_norm,
                       soma_loss loss, const float *x, int64_t rows, float *outputs, float *proba) {
    int64_t in = soma_mlp_inputs(m), out = soma_mlp_outputs(m);
    int64_t full = rows < SOMA_RUN_ROWS ? rows : SOMA_RUN_ROWS, last = rows % full;
    int apply = norm && norm->kind != SOMA_NORM_NONE;
    piece pieces[2] = {{0}};
    float *host = malloc((size_t)(full * in) * sizeof *host);
    soma_status st = host ? piece_create(m, full, &pieces[0])
                          : soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_mlp_run: out of host memory");
    if (st == SOMA_OK && last) st = piece_create(m, last, &pieces[1]);
    for (int64_t first = 0; first < rows && st == SOMA_OK; first += full) {
        int64_t n = rows - first < full ? rows - first : full;
        piece *p = n == full ? &pieces[0] : &pieces[1];
        const float *src = x + first * in;
        if (apply) {
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < in; j++)
                    host[i * in + j] = (src[i * in + j] - norm->offset[j]) * norm->scale[j];
            src = host;
        }
        const soma_tensor *y;
        st = soma_tensor_upload(p->x, src, (size_t)(n * in));
        if (st == SOMA_OK) st = soma_mlp_eval_forward(m, p->x, &p->ws, &y);
        if (st == SOMA_OK) st = soma_tensor_download(y, outputs + first * out, (size_t)(n * out));
        if (st == SOMA_OK && target_norm) st = soma_target_normalizer_undo(target_norm, outputs + first * out, n);
        if (st == SOMA_OK && proba) probabilities(outputs + first * out, n, out, loss, proba + first * out);
    }
    piece_free(&pieces[0]);
    piece_free(&pieces[1]);
    free(host);
    return st;
}

soma_status soma_mlp_run(const soma_mlp *model, const soma_normalizer *norm, const soma_normalizer *target_norm,
                         soma_loss loss, const float *x, int64_t rows, float *outputs, float *proba) {
    SOMA_TRY(check_args(model, norm, target_norm, loss, x, rows, outputs, proba));
    if (soma_device_kind_of(soma_mlp_device(model)) == SOMA_DEVICE_CPU)
        return run(model, norm, target_norm, loss, x, rows, outputs, proba);
    pthread_mutex_lock(&device_lock);
    soma_status st = run(model, norm, target_norm, loss, x, rows, outputs, proba);
    pthread_mutex_unlock(&device_lock);
    return st;
}
