/* mlp_internal.h: evaluation forwards that leave the model untouched
 * (src/model/infer.c runs them from several threads on one model). */
#ifndef SOMA_MLP_INTERNAL_H
#define SOMA_MLP_INTERNAL_H

#include "model/layer.h"
#include "soma/model.h"

/* The work tensors of one evaluation forward on `rows` rows, owned by the
 * caller: those of each layer. */
typedef struct soma_mlp_eval_ws {
    int64_t rows;
    int n_layers;
    soma_layer_ws lws[SOMA_MAX_LAYERS];
} soma_mlp_eval_ws;

soma_status soma_mlp_eval_ws_create(const soma_mlp *m, int64_t rows, soma_mlp_eval_ws *ws);
void soma_mlp_eval_ws_free(soma_mlp_eval_ws *ws);
/* The evaluation forward of soma_mlp_forward (no dropout, no statistics)
 * into ws; reads the model only. *output points into ws. */
soma_status soma_mlp_eval_forward(const soma_mlp *m, const soma_tensor *x, soma_mlp_eval_ws *ws,
                                  const soma_tensor **output);

#endif
