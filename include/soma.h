/**
 * @file soma.h
 * @brief Train multilayer perceptrons on the CPU or on NVIDIA GPUs.
 *
 * One tensor API, two backends. Including this header brings in the whole
 * public API:
 * - soma/export.h: SOMA_API, the mark of an exported function
 * - soma/status.h: status codes and error messages
 * - soma/device.h: devices ("cpu", "cuda:N", "auto")
 * - soma/tensor.h: float32 matrices and the counter-based RNG
 * - soma/ops.h: the ops, forward and backward
 * - soma/data.h: datasets, IDX and CSV readers, normalization
 * - soma/model.h: multilayer perceptrons
 * - soma/optim.h: optimizers and schedules
 * - soma/train.h: training, evaluation, prediction
 * - soma/profile.h: where a training epoch's time goes
 * - soma/checkpoint.h: safetensors checkpoints
 *
 * See the README and docs/ for a tour.
 */
#ifndef SOMA_H
#define SOMA_H

/** soma's major version. */
#define SOMA_VERSION_MAJOR 0
/** soma's minor version. */
#define SOMA_VERSION_MINOR 1
/** soma's patch version. */
#define SOMA_VERSION_PATCH 0
/** The version as text, "MAJOR.MINOR.PATCH". */
#define SOMA_VERSION_STRING "0.1.0"

#include "soma/export.h"
#include "soma/status.h"
#include "soma/device.h"
#include "soma/tensor.h"
#include "soma/ops.h"
#include "soma/data.h"
#include "soma/model.h"
#include "soma/optim.h"
#include "soma/train.h"
#include "soma/profile.h"
#include "soma/checkpoint.h"
#include "soma/infer.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Releases every cached resource (device contexts, GEMM workspaces) so that
 *  leak checkers see a clean exit. Devices still open are closed. */
SOMA_API void soma_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
