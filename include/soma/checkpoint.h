/**
 * @file soma/checkpoint.h
 * @brief Models and training state in safetensors files.
 *
 * Tensors: every named tensor of the model (soma_mlp_param()), e.g.
 * `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out] of a dense layer,
 * `layers.{i}.running_mean` or `layers.{i}.fc1.weight` of other kinds (i
 * counts layers from 0; docs/models.md lists them), so PyTorch reads them
 * with safetensors.torch.load_file and a module of the same architecture
 * loads them as they are (batchnorm's `num_batches_tracked` is an I64
 * scalar). Optional: `normalizer.offset` / `normalizer.scale` [features],
 * `target_normalizer.offset` / `target_normalizer.scale` [outputs] and
 * `optimizer.{parameter name}.{slot}` (the optimizer state; filter keys on
 * the "layers." prefix for a plain state dict). The architecture
 * (`arch`, canonical form, and for a plain MLP also `layers` as older
 * versions wrote it) and the training settings go in `__metadata__`.
 */
#ifndef SOMA_CHECKPOINT_H
#define SOMA_CHECKPOINT_H

#include "soma/export.h"

#include "soma/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Everything in a checkpoint besides the weights. */
typedef struct soma_checkpoint_info {
    soma_loss loss;              /**< the loss the model was trained with */
    soma_normalizer normalizer;  /**< kind NONE: no normalization */
    int has_optimizer;           /**< the file holds optimizer settings and state */
    soma_optim_config optim;     /**< the optimizer's settings (when has_optimizer) */
    int64_t steps;               /**< optimizer updates done */
    soma_train_state state;      /**< where the run stands */
    soma_train_config train;     /**< batch, epochs, seed, no_shuffle, patience (callbacks NULL) */
    int has_val_split;           /**< the file says which fraction was held out for validation */
    double val_split;            /**< that fraction, in [0, 1) (the CLI's --val-split) */
    int64_t n_class_names;       /**< 0, or the names of classes 0..n-1 (see soma_dataset_class_name());
                                      at most the model's outputs, or 2 for one bce output */
    const char *const *class_names; /**< class k's name (metadata `class_names`, a JSON array);
                                         allocated by soma_checkpoint_load(): free it with
                                         soma_checkpoint_info_free() */
    soma_normalizer target_normalizer; /**< regression targets' standardization (metadata
                                            `target_normalizer`, see soma_target_normalizer_fit());
                                            kind NONE in files without it: outputs as they are */
} soma_checkpoint_info;

/** The most class names a checkpoint holds. */
#define SOMA_MAX_CLASS_NAMES 4096

/** Frees what soma_checkpoint_load() allocated in info (the normalizers'
 *  arrays and the class names) and zeroes those fields. NULL is allowed. */
SOMA_API void soma_checkpoint_info_free(soma_checkpoint_info *info);

/** Saves model (and optimizer state when optimizer is not NULL) with info,
 *  crash-safely: path holds the old file or the complete new one (a symbolic
 *  link's target is replaced; a character device or FIFO is written in place;
 *  a directory or read-only file is refused). The file is format
 *  `soma.mlp.v2`: its checksum covers the metadata and every tensor. */
SOMA_API soma_status soma_checkpoint_save(const char *path, soma_mlp *model, soma_optimizer *optimizer,
                                 const soma_checkpoint_info *info);

/** Loads a model onto device and fills info (its normalizer arrays are
 *  allocated, and its class names when the file has them: free them with
 *  soma_checkpoint_info_free()). An unreadable file is
 *  SOMA_ERR_IO; one that is not a well-formed soma checkpoint is an error
 *  saying what is wrong with it. The file is hostile input: its checksum
 *  must hold (v2: metadata and tensors; v1 files, written before the
 *  metadata was covered, are checked on their tensors), every number of the
 *  metadata must be in its range, the architecture must match the tensors'
 *  shapes before anything is allocated, and a NaN or infinity in any tensor
 *  is SOMA_ERR_NUMERIC. */
SOMA_API soma_status soma_checkpoint_load(const char *path, soma_device *device, soma_mlp **model,
                                 soma_checkpoint_info *info);

/** Copies the optimizer state saved in path into optimizer, which must have
 *  been created for the same model and optimizer kind; sets its step count. */
SOMA_API soma_status soma_checkpoint_load_optimizer(const char *path, soma_optimizer *optimizer);

/** Copies only the weights of the checkpoint into model (same architecture),
 *  as `soma train --init FILE` does. path may also be a plain safetensors
 *  state dict without soma's metadata (as PyTorch's
 *  safetensors.torch.save_file writes one): then it must hold exactly the
 *  model's tensors (soma_mlp_param() names and shapes), and the first
 *  missing, mis-shaped or extra key is the error. */
SOMA_API soma_status soma_checkpoint_load_weights(const char *path, soma_mlp *model);

#ifdef __cplusplus
}
#endif
#endif
