/* test_faults.c: faults end in a clear error and lose nothing.
 *   - a non-finite loss stops training with the step and the layer named,
 *     and the checkpoint saved before it stays intact;
 *   - an impossible allocation (a 10^6 x 10^6 layer) is an error that leaves
 *     the process usable;
 *   - a corrupted checkpoint fails its checksum; a checkpoint of another
 *     shape is refused with both shapes named;
 *   - a checkpoint's metadata is hostile input: covered by the v2 checksum,
 *     every number range-checked, the architecture checked against the
 *     tensors before allocation, NaN and infinity refused; v1 files load;
 *   - under a memory limit a model beyond it is refused naming both figures. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/safetensors.h"
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
    ck_assert_msg(strstr(soma_last_error(), "step 11 (epoch 3): the loss is nan; layers.1.weight is not finite"),
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

/* ---- checkpoints as hostile input ------------------------------------------------ */

/* A saved checkpoint (Adam, standardized, 4 -> 8 -> 2) rewritten with one
 * metadata entry changed (value NULL: removed) and, when poison is not NULL,
 * one float of a tensor changed. As format v1 without a checksum (what
 * another tool may write) every check behind the checksum is reached; as v2
 * the old checksum stays and must no longer hold. */
static void rewrite(const char *key, const char *value, const char *format, const char *poison, float bad) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = model_4_8_2(cpu);
    soma_optimizer *o = NULL;
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.schedule = SOMA_SCHEDULE_COSINE;
    oc.total_steps = 8;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    soma_dataset *ds = line_data(16);
    soma_normalizer norm;
    ck_soma(soma_normalizer_fit(ds, SOMA_NORM_STANDARDIZE, &norm));
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT, .normalizer = norm, .has_optimizer = 1,
                                 .state = {.epochs_done = 2, .best_epoch = 1}, .train = {.batch = 8, .epochs = 4}};
    ck_soma(soma_checkpoint_save(path, m, o, &info));
    soma_normalizer_free(&norm);
    soma_dataset_free(ds);
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_device_close(cpu);

    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    soma_st_meta meta[64];
    int n = 0, arch_case = key && strcmp(key, "arch") == 0;
    for (int i = 0; i < soma_st_file_meta_count(f); i++) {
        soma_st_meta e = *soma_st_file_meta_entry(f, i);
        if (strcmp(e.key, "format") == 0 && format) e.value = format;
        if (strcmp(e.key, "checksum") == 0 && format && strcmp(format, "soma.mlp.v1") == 0) continue;
        if (arch_case && strcmp(e.key, "layers") == 0) continue; /* else it would count, not 'arch' */
        if (key && strcmp(e.key, key) == 0) {
            if (!value) continue;
            e.value = value;
            key = NULL;
        }
        meta[n++] = e;
    }
    if (key && value) meta[n++] = (soma_st_meta){key, value};
    soma_st_tensor tensors[64];
    int count = soma_st_file_count(f);
    for (int i = 0; i < count; i++) {
        tensors[i] = *soma_st_file_tensor(f, i);
        if (poison && strcmp(tensors[i].name, poison) == 0) tensors[i].data[1] = bad;
    }
    ck_soma(soma_safetensors_write(path, tensors, count, meta, n));
    soma_st_file_free(f);
}

#define ck_load_fails(status, ...)                                                             \
    do {                                                                                       \
        soma_device *ck_cpu_ = test_open("cpu");                                               \
        soma_mlp *ck_m_ = (soma_mlp *)1;                                                       \
        soma_checkpoint_info ck_info_;                                                         \
        ck_fails(soma_checkpoint_load(path, ck_cpu_, &ck_m_, &ck_info_), status, __VA_ARGS__); \
        ck_assert_ptr_null(ck_m_);                                                             \
        soma_device_close(ck_cpu_);                                                            \
    } while (0)

static void ck_loads(void) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    soma_checkpoint_info info;
    ck_soma(soma_checkpoint_load(path, cpu, &m, &info));
    soma_normalizer_free(&info.normalizer);
    soma_mlp_free(m);
    soma_device_close(cpu);
}

START_TEST(metadata_is_covered_by_the_v2_checksum) {
    rewrite(NULL, NULL, NULL, NULL, 0);
    ck_loads();
    rewrite("train.seed", "2", NULL, NULL, 0); /* the header edited, the data untouched */
    ck_load_fails(SOMA_ERR_FORMAT, "checksum mismatch", "the metadata and tensors give");
    rewrite("checksum", NULL, NULL, NULL, 0);
    ck_load_fails(SOMA_ERR_FORMAT, "a soma.mlp.v2 checkpoint must carry a checksum");
    unlink(path);
}
END_TEST

/* v1 checkpoints (written before the metadata was covered) still load: those
 * soma train saved then (tests/corpus/checkpoint/v1-*.st), with their
 * checksum and without one. */
START_TEST(v1_checkpoints_still_load) {
    const char *names[] = {"v1-adam-standardized.st", "v1-adam-standardized-no-checksum.st",
                           "v1-sgd-momentum-dropout.st", "v1-mse-no-norm.st"};
    soma_device *cpu = test_open("cpu");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char file[1024];
        snprintf(file, sizeof file, "%s/corpus/checkpoint/%s", SOMA_TESTS_DIR, names[i]);
        soma_mlp *m = NULL;
        soma_checkpoint_info info;
        ck_soma(soma_checkpoint_load(file, cpu, &m, &info));
        ck_assert_int_eq(soma_mlp_inputs(m), 2);
        ck_assert_int_eq(info.state.epochs_done, 1);
        ck_assert_int_eq(info.state.steps_in_epoch, 0); /* a v2 key: absent, so 0 */
        ck_assert(!info.has_val_split);
        if (info.has_optimizer) {
            soma_optimizer *o = NULL;
            ck_soma(soma_optimizer_create(m, &info.optim, &o));
            ck_soma(soma_checkpoint_load_optimizer(file, o));
            soma_optimizer_free(o);
        }
        soma_normalizer_free(&info.normalizer);
        soma_mlp_free(m);
    }
    soma_device_close(cpu);
    /* a v1 file's metadata is not covered: edited, it still loads (the reason for v2) */
    rewrite("train.seed", "7", "soma.mlp.v1", NULL, 0);
    ck_loads();
    unlink(path);
}
END_TEST

/* Every number range-checked before it is converted; the architecture
 * checked against the tensors before anything is allocated. */
START_TEST(hostile_metadata_is_refused) {
    static const struct {
        const char *key, *value, *status_text;
        soma_status status;
    } cases[] = {
        {"state.epochs_done", "1e12", "'state.epochs_done' = '1e12' is not an integer", SOMA_ERR_FORMAT},
        {"state.epochs_done", "1000000000000", "out of range [0, 2147483647]", SOMA_ERR_FORMAT},
        {"state.best_epoch", "3", "'state.best_epoch' = 3 is out of range [0, 2]", SOMA_ERR_FORMAT},
        {"state.steps_in_epoch", "-1", "out of range", SOMA_ERR_FORMAT},
        {"train.seed", "-5", "'train.seed' = '-5' is not an integer in [0, 2^64)", SOMA_ERR_FORMAT},
        {"train.batch", " 8", "is not an integer", SOMA_ERR_FORMAT},
        {"train.val_split", "1", "'train.val_split' = 1 is out of range", SOMA_ERR_FORMAT},
        {"inputs", "3.5", "'inputs' = '3.5' is not an integer", SOMA_ERR_FORMAT},
        {"optim.lr", "-1", "'optim.lr' = -1 is out of range", SOMA_ERR_FORMAT},
        {"optim.lr", "nan", "'optim.lr' = nan is out of range", SOMA_ERR_FORMAT},
        {"optim.beta2", "1", "'optim.beta2' = 1 is out of range", SOMA_ERR_FORMAT},
        {"optim.total_steps", "0", "a cosine schedule needs >= 1", SOMA_ERR_FORMAT},
        {"optim.kind", "lion", "'optim.kind' = 'lion' is not sgd, adam or adamw", SOMA_ERR_FORMAT},
        {"state.best_val_loss", "nan", "out of range", SOMA_ERR_FORMAT},
        {"layers", "8:tanh:0:0,2:identity:0:0.5", "the output layer has dropout 0.5", SOMA_ERR_FORMAT},
        {"layers", "8:tanh:1e39:0,2:identity:0:0", "activation parameter", SOMA_ERR_FORMAT},
        {"layers", "8:swish:0:0,2:identity:0:0", "unknown activation 'swish'", SOMA_ERR_FORMAT},
        /* a 2-billion-unit layer in a small file: refused by the shapes, nothing allocated */
        {"layers", "2000000000:relu:0:0,2:identity:0:0",
         "describes layer 0 as 4 inputs -> 2000000000 units, but tensor 'layers.0.weight' has shape [8, 4]",
         SOMA_ERR_SHAPE},
        {"inputs", "2147483647", "describes layer 0 as 2147483647 inputs -> 8 units", SOMA_ERR_SHAPE},
        /* 'arch' (rewrite drops 'layers', which a plain MLP's file also has) */
        {"arch", NULL, "the metadata has no 'arch'", SOMA_ERR_FORMAT},
        {"arch", "4,dense:8:tanh,bogus:2", "token 3 'bogus:2' (character 16): unknown layer kind 'bogus'",
         SOMA_ERR_FORMAT},
        {"arch", "4,dense:2000000000:relu,dense:2",
         "describes layer 0 as 4 inputs -> 2000000000 units, but tensor 'layers.0.weight' has shape [8, 4]",
         SOMA_ERR_SHAPE},
        {"arch", "5,dense:8:tanh,dense:2", "'arch' starts with 5 inputs but 'inputs' is 4", SOMA_ERR_FORMAT},
        {"arch", "4,dense:8:tanh,batchnorm,dense:2", "tensor 'layers.1.weight' has shape [2, 8]", SOMA_ERR_SHAPE},
        /* target standardization: a kind it cannot have, arrays missing, a classifier's outputs */
        {"target_normalizer", "scale01", "unknown target_normalizer 'scale01'", SOMA_ERR_FORMAT},
        {"target_normalizer", "standardize", "target_normalizer.offset and target_normalizer.scale must be [2]",
         SOMA_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rewrite(cases[i].key, cases[i].value, "soma.mlp.v1", NULL, 0);
        ck_load_fails(cases[i].status, cases[i].status_text);
    }
    /* non-finite weights, normalizer values or optimizer state */
    const char *poisoned[] = {"layers.1.weight", "normalizer.scale", "optimizer.layers.0.bias.v"};
    for (size_t i = 0; i < 3; i++) {
        rewrite(NULL, NULL, "soma.mlp.v1", poisoned[i], i == 1 ? INFINITY : NAN);
        ck_load_fails(SOMA_ERR_NUMERIC, poisoned[i], "at index 1");
    }
    unlink(path);
}
END_TEST

/* Under an address-space limit (ulimit -v) a model beyond it is refused
 * before it is allocated, naming what it needs and what the process can get.
 * In a child: the limit is per process. */
START_TEST(memory_limit_is_named) {
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long long pages = 0;
        if (!f || fscanf(f, "%llu", &pages) != 1) _exit(3);
        fclose(f);
        rlim_t size = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE));
        struct rlimit limit = {.rlim_cur = size + (256u << 20), .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(4);
        soma_device *cpu = NULL;
        if (soma_device_open("cpu", &cpu) != SOMA_OK) _exit(5);
        const int64_t sizes[] = {8192, 8192, 10}; /* 64M parameters and their gradients: 512 MiB */
        soma_mlp *m = NULL;
        soma_status st = soma_mlp_create_simple(cpu, sizes, 3, SOMA_ACT_RELU, &m);
        const char *msg = soma_last_error();
        printf("under ulimit -v: %s\n", msg);
        if (st != SOMA_ERR_OUT_OF_MEMORY || m) _exit(1);
        if (!strstr(msg, "needs 512.") || !strstr(msg, "the address-space limit set by ulimit -v")) _exit(2);
        const int64_t small[] = {8, 64, 2}; /* and a small model still fits */
        if (soma_mlp_create_simple(cpu, small, 3, SOMA_ACT_RELU, &m) != SOMA_OK) _exit(6);
        soma_mlp_free(m);
        soma_device_close(cpu);
        _exit(0);
    }
    int wstatus;
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "child failed: status %d", wstatus);
}
END_TEST

/* Two threads saving checkpoints at once (each its own file, its own
 * model) both end with files that load and hold their own weights: saving
 * shares no state between threads (the CRC-32 table is a constant). */
typedef struct saver {
    int id;
    char file[160];
    int failures;
} saver;

static void *save_many(void *arg) {
    saver *s = arg;
    soma_device *cpu = NULL;
    if (soma_device_open("cpu", &cpu) != SOMA_OK) return NULL;
    const int64_t sizes[] = {64, 128, 10};
    soma_mlp *m = NULL, *back = NULL;
    if (soma_mlp_create_simple(cpu, sizes, 3, SOMA_ACT_RELU, &m) != SOMA_OK ||
        soma_mlp_init(m, SOMA_INIT_AUTO, (uint64_t)s->id + 1) != SOMA_OK) {
        s->failures++;
        return NULL;
    }
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT};
    static float a[2][128 * 64], b[2][128 * 64];
    for (int round = 0; round < 20; round++) {
        soma_checkpoint_info loaded;
        if (soma_checkpoint_save(s->file, m, NULL, &info) != SOMA_OK ||
            soma_checkpoint_load(s->file, cpu, &back, &loaded) != SOMA_OK ||
            soma_tensor_download(soma_mlp_weight(m, 0), a[s->id], 128 * 64) != SOMA_OK ||
            soma_tensor_download(soma_mlp_weight(back, 0), b[s->id], 128 * 64) != SOMA_OK ||
            memcmp(a[s->id], b[s->id], sizeof a[0]) != 0) {
            if (!s->failures) fprintf(stderr, "thread %d, round %d: %s\n", s->id, round, soma_last_error());
            s->failures++;
        }
        soma_normalizer_free(&loaded.normalizer);
        soma_mlp_free(back);
        back = NULL;
    }
    soma_mlp_free(m);
    soma_device_close(cpu);
    return NULL;
}

START_TEST(two_threads_save_at_once) {
    saver savers[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        savers[i] = (saver){.id = i};
        snprintf(savers[i].file, sizeof savers[i].file, "%s/thread%d.safetensors", dir, i);
        ck_assert_int_eq(pthread_create(&threads[i], NULL, save_many, &savers[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_msg(savers[i].failures == 0, "thread %d: %d failed rounds", i, savers[i].failures);
        unlink(savers[i].file);
    }
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
    tcase_add_test(tc, metadata_is_covered_by_the_v2_checksum);
    tcase_add_test(tc, v1_checkpoints_still_load);
    tcase_add_test(tc, hostile_metadata_is_refused);
    tcase_add_test(tc, memory_limit_is_named);
    tcase_add_test(tc, two_threads_save_at_once);
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_FORK);
    rmdir(dir);
    return code;
}
