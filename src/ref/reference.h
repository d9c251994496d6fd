/* reference.h: plain float64 implementations of every op, written for
 * clarity, not speed. They are the ground truth the tests and `soma check`
 * measure the backends against; op_table.c names one per op. */
#ifndef SOMA_REF_REFERENCE_H
#define SOMA_REF_REFERENCE_H

#include "core/op_table.h"

void soma_ref_gemm(const soma_ref_call *c);
void soma_ref_bias_add(const soma_ref_call *c);
void soma_ref_bias_grad(const soma_ref_call *c);
void soma_ref_bias_act(const soma_ref_call *c);
void soma_ref_gemm_bias_act(const soma_ref_call *c);
void soma_ref_gemm_act_backward(const soma_ref_call *c);
void soma_ref_activation(const soma_ref_call *c);          /* every activation, by c->op */
void soma_ref_activation_backward(const soma_ref_call *c);
void soma_ref_softmax(const soma_ref_call *c);
void soma_ref_softmax_backward(const soma_ref_call *c);
void soma_ref_log_softmax(const soma_ref_call *c);
void soma_ref_log_softmax_backward(const soma_ref_call *c);
void soma_ref_mse_loss(const soma_ref_call *c);
void soma_ref_mse_backward(const soma_ref_call *c);
void soma_ref_bce_logits_loss(const soma_ref_call *c);
void soma_ref_bce_logits_backward(const soma_ref_call *c);
void soma_ref_softmax_xent_loss(const soma_ref_call *c);
void soma_ref_softmax_xent_backward(const soma_ref_call *c);
void soma_ref_scale(const soma_ref_call *c);
void soma_ref_axpy(const soma_ref_call *c);
void soma_ref_sum(const soma_ref_call *c);
void soma_ref_mean(const soma_ref_call *c);
void soma_ref_row_argmax(const soma_ref_call *c);
void soma_ref_correct_count(const soma_ref_call *c);
void soma_ref_fill(const soma_ref_call *c);
void soma_ref_fill_uniform(const soma_ref_call *c);
void soma_ref_fill_normal(const soma_ref_call *c);
void soma_ref_dropout(const soma_ref_call *c); /* forward and backward: the same map */
void soma_ref_bias_act_dropout(const soma_ref_call *c);
void soma_ref_bias_act_dropout_backward(const soma_ref_call *c);
void soma_ref_sum_squares(const soma_ref_call *c);
void soma_ref_active_columns(const soma_ref_call *c);
void soma_ref_sgd_update(const soma_ref_call *c);
void soma_ref_adam_update(const soma_ref_call *c);
/* reference_norm.c: batchnorm, layernorm, add */
void soma_ref_batchnorm_forward_train(const soma_ref_call *c);
void soma_ref_batchnorm_forward_eval(const soma_ref_call *c);
void soma_ref_batchnorm_backward(const soma_ref_call *c);
void soma_ref_layernorm_forward(const soma_ref_call *c);
void soma_ref_layernorm_backward(const soma_ref_call *c);
void soma_ref_add(const soma_ref_call *c);
/* reference_step.c: the training step's control ops */
#define NUMEL_OF(shape) ((shape).rows * (shape).cols)
void soma_ref_gather_rows(const soma_ref_call *c);
void soma_ref_step_begin(const soma_ref_call *c);
void soma_ref_watch_loss(const soma_ref_call *c);
void soma_ref_clip_scale(const soma_ref_call *c);
void soma_ref_sgd_step(const soma_ref_call *c);
void soma_ref_adam_step(const soma_ref_call *c);
void soma_ref_bias_act_dropout_step(const soma_ref_call *c);

#endif
