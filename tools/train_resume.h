/* train_resume.h: `soma train --resume FILE`: what the resumed run takes
 * from the checkpoint and what from the command line.
 *
 * A resumed run is the saved run continued: its model, loss, optimizer and
 * schedule, normalizer, batch, seed, shuffling and validation split come from
 * the file. Beside --resume,
 *   - --epochs, --patience, --device, --data, --save, --save-every, --log
 *     and --plot are applied: with another --epochs than the file planned, a
 *     cosine schedule is re-planned over the new total, so the run goes on as
 *     if it had been started with that many epochs; without --epochs the
 *     file's plan is finished;
 *   - the options the file settles are accepted when they repeat its value
 *     and refused otherwise, naming the option and the file's value;
 *   - --init and --weight-init (weights of another origin) are refused.
 * A refusal is bad usage (exit 2), and comes before any training. */
#ifndef SOMA_TOOLS_TRAIN_RESUME_H
#define SOMA_TOOLS_TRAIN_RESUME_H

#include "soma/checkpoint.h"
#include "train_args.h"

/* Before the data is read: the options against the file. Sets a->epochs
 * (when not given) and a->val_split (the file's, when it has one). Returns 0,
 * or 2 after printing the reason. */
int resume_check_options(const char *path, train_args *a, const soma_checkpoint_info *info, const soma_mlp *model);

/* Once the data is read: what depends on it. rows: the training rows;
 * auto_norm: the normalization --normalize auto picks for this data. Checks
 * that the file's step count fits epochs of these rows (the same data and
 * split as the saved run). Returns 0, or 2 after printing the reason. */
int resume_check_data(const char *path, const train_args *a, const soma_checkpoint_info *info, int64_t rows,
                      soma_norm_kind auto_norm);

/* The optimizer settings of the resumed run: the file's, with a cosine
 * schedule re-planned over a->epochs. */
soma_optim_config resume_optimizer(const train_args *a, const soma_checkpoint_info *info, int64_t rows);

/* Prints what the resumed run does: where it stands, up to which epoch, and
 * whether the schedule was re-planned. */
void resume_describe(const char *path, const train_args *a, const soma_checkpoint_info *info, int64_t rows);

#endif
