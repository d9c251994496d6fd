/* test_faults.c: faults end in a clear error and lose nothing.
 *   - a non-finite loss stops training with the step and the layer named,
 *     and the checkpoint saved before it stays intact;
 *   - an impossible allocation (a 10^6 x 10^6 layer) is an error that leaves
 *     the process usable;
 *   - a corrupted checkpoint fails its checksum; a checkpoint of another
 *     shape is refused with both shapes named. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soma/checkpoint.h"
#include "test_util.h"

static char dir[] = "/tmp/soma_faults_XXXXXX";
static char path[128];

static soma_dataset *line_data(int64_t rows) {
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(rows, 4, 1, &ds));
    for (int64_t i = 0; i < rows * 4; i++) soma_dataset_feature_data(ds)[i] = (float)((i * 37) % 11) / 11.0f;
    for (int64_t i = 0; i < rows; i++) soma_dataset_target_data(ds)[i] = (float)(i % 2);
    return ds;
}

static soma_mlp *model_4_8_2(soma_device *dev) {
    const int64_t sizes[] = {4, 8, 2};
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create_simple(dev, sizes, 3, SOMA_ACT_TANH, &m));
    return m;
}

typedef struct sabotage {
    soma_mlp *model;
    soma_optimizer *opt;
    float saved[16];
} sabotage;

/* After epoch 2: save a checkpoint, then poison layer 1's weights. */
static int save_then_poison(const soma_epoch_report *r, void *user) {
    sabotage *s = user;
    if (r->epoch != 2) return 0;
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT, .has_optimizer = 1, .state = {.epochs_done = 2}};
    ck_soma(soma_checkpoint_save(path, s->model, s->opt, &info));
    ck_soma(soma_tensor_download(soma_mlp_weight(s->model, 1), s->saved, 16));
    float poisoned[16];
    memcpy(poisoned, s->saved, sizeof poisoned);
    poisoned[5] = NAN;
    ck_soma(soma_tensor_upload(soma_mlp_weight(s->model, 1), poisoned, 16));
    return 0;
}

START_TEST(non_finite_loss_names_step_and_layer) {
    soma_device *cpu = test_open("cpu");
    soma_dataset *ds = line_data(40); /* 5 steps per epoch at batch 8 */
    sabotage s = {.model = model_4_8_2(cpu)};
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_SGD);
    ck_soma(soma_optimizer_create(s.model, &oc, &s.opt));
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 8, .epochs = 5, .seed = 1,
                            .on_epoch = save_then_poison, .user = &s};
    soma_train_state state = {0};
    ck_assert_int_eq(soma_train(s.model, s.opt, ds, NULL, &tc, &state), SOMA_ERR_NUMERIC);
    ck_assert_msg(strstr(soma_last_error(), "step 11 (epoch 3): the loss is nan; the weights of layer 1 are not finite"),
                  "message: %s", soma_last_error());
    /* the checkpoint of epoch 2 is intact and holds the weights before the poison */
    soma_mlp *back = NULL;
    soma_checkpoint_info info;
    ck_soma(soma_checkpoint_load(path, cpu, &back, &info));
    float loaded[16];
    ck_soma(soma_tensor_download(soma_mlp_weight(back, 1), loaded, 16));
    ck_assert(memcmp(loaded, s.saved, sizeof loaded) == 0);
    ck_assert_int_eq(info.state.epochs_done, 2);
    soma_mlp_free(back);
    soma_optimizer_free(s.opt);
    soma_mlp_free(s.model);
    soma_dataset_free(ds);
    soma_device_close(cpu);
    unlink(path);
}
END_TEST

START_TEST(impossible_allocation_leaves_the_process_usable) {
    soma_device *cpu = test_open("cpu");
    const int64_t huge[] = {1000000, 1000000, 10};
    soma_mlp *m = (soma_mlp *)1;
    /* refused before anything is allocated, with both figures */
    ck_assert_int_eq(soma_mlp_create_simple(cpu, huge, 3, SOMA_ACT_RELU, &m), SOMA_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(soma_last_error(), "soma_mlp_create: a model of 1000011000010 parameters (with their "
                                            "gradients) needs 7450.7 GiB but the process can get "),
                  "%s", soma_last_error());
    /* and an allocation that fails itself says so */
    soma_tensor *t = (soma_tensor *)1;
    ck_assert_int_eq(soma_tensor_create(cpu, 1000000, 1000000, &t), SOMA_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(soma_last_error(), "cannot allocate 1000000x1000000 floats"), "%s", soma_last_error());
    /* and the process goes on: a small model trains */
    soma_dataset *ds = line_data(16);
    m = model_4_8_2(cpu);
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    soma_optimizer *o = NULL;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 8, .epochs = 2};
    soma_train_state state = {0};
    ck_soma(soma_train(m, o, ds, NULL, &tc, &state));
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_dataset_free(ds);
    soma_device_close(cpu);
}
END_TEST

START_TEST(corrupted_checkpoint_fails_its_checksum) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = model_4_8_2(cpu), *back = NULL;
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT};
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, -7, SEEK_END); /* a byte inside the last tensor's data */
    int byte = fgetc(f);
    fseek(f, -7, SEEK_END);
    fputc(byte ^ 0x10, f);
    fclose(f);
    ck_assert_int_eq(soma_checkpoint_load(path, cpu, &back, &info), SOMA_ERR_FORMAT);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(soma_last_error(), "checksum mismatch") && strstr(soma_last_error(), path),
                  "%s", soma_last_error());
    soma_mlp_free(m);
    soma_device_close(cpu);
    unlink(path);
}
END_TEST

START_TEST(checkpoint_of_another_shape_is_refused) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = model_4_8_2(cpu), *other = NULL;
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT};
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    const int64_t sizes[] = {4, 16, 2};
    ck_soma(soma_mlp_create_simple(cpu, sizes, 3, SOMA_ACT_TANH, &other));
    ck_assert_int_eq(soma_checkpoint_load_weights(path, other), SOMA_ERR_SHAPE);
    ck_assert_msg(strstr(soma_last_error(), "tensor 'layers.0.weight' has shape [8, 4] but the model needs [16, 4]"),
                  "%s", soma_last_error());
    soma_mlp_free(other);
    soma_mlp_free(m);
    soma_device_close(cpu);
    unlink(path);
}
END_TEST

int main(void) {
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, non_finite_loss_names_step_and_layer);
    tcase_add_test(tc, impossible_allocation_leaves_the_process_usable);
    tcase_add_test(tc, corrupted_checkpoint_fails_its_checksum);
    tcase_add_test(tc, checkpoint_of_another_shape_is_refused);
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_FORK);
    rmdir(dir);
    return code;
}
