/* soma.h: train multilayer perceptrons on the CPU or on NVIDIA GPUs.
 * One tensor API, two backends; see README.md for a tour. */
#ifndef SOMA_H
#define SOMA_H

#define SOMA_VERSION_MAJOR 0
#define SOMA_VERSION_MINOR 1
#define SOMA_VERSION_PATCH 0
#define SOMA_VERSION_STRING "0.1.0"

#include "soma/status.h"
#include "soma/device.h"
#include "soma/tensor.h"
#include "soma/ops.h"
#include "soma/data.h"
#include "soma/model.h"
#include "soma/optim.h"
#include "soma/train.h"
#include "soma/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Releases every cached resource (device contexts, GEMM workspaces) so that
 * leak checkers see a clean exit. Devices still open are closed. */
void soma_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
