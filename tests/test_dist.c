/* test_dist.c: soma/dist.h in one process, and the shard arithmetic of N
 * ranks (issue 17). The ranks themselves run in tests/dist_test.sh under
 * mpirun; here: a single process is the identity and trains exactly as
 * without a soma_dist, and every rank count splits every batch into
 * disjoint shards that cover it. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "dist/dist_internal.h"
#include "test_util.h"

static soma_dist *open_single(void) {
    /* no launcher: whatever ctest's environment holds */
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("SLURM_STEP_NUM_TASKS");
    soma_dist *d = NULL;
    ck_soma(soma_dist_open(&d));
    return d;
}

START_TEST(single_process_is_the_identity) {
    soma_dist *d = open_single();
    ck_assert_int_eq(soma_dist_size(d), 1);
    ck_assert_int_eq(soma_dist_rank(d), 0);
    ck_assert_str_eq(soma_dist_description(d), "single process");
    ck_assert_int_eq(soma_dist_size(NULL), 1);
    ck_assert_int_eq(soma_dist_rank(NULL), 0);
    ck_soma(soma_dist_agree(d, SOMA_OK));
    /* a failure stays this process's, with its own message */
    {
        soma_status st = soma_tensor_create(NULL, 1, 1, NULL);
        ck_assert_int_ne(st, SOMA_OK);
        char before[256];
        snprintf(before, sizeof before, "%s", soma_last_error());
        ck_assert_int_eq(soma_dist_agree(d, st), st);
        ck_assert_str_eq(soma_last_error(), before);
    }
    int flag = 1;
    ck_soma(soma_dist_any(d, &flag));
    ck_assert_int_eq(flag, 1);
    flag = 0;
    ck_soma(soma_dist_any(d, &flag));
    ck_assert_int_eq(flag, 0);
    float v[3] = {1.5f, -2.0f, 7.0f};
    ck_soma(soma_dist_all_reduce_sum(d, v, 3));
    ck_assert(v[0] == 1.5f && v[1] == -2.0f && v[2] == 7.0f);
    char bytes[4] = "abc";
    ck_soma(soma_dist_broadcast(d, bytes, 4, 0));
    ck_fails(soma_dist_broadcast(d, bytes, 4, 1), SOMA_ERR_INVALID_ARG, "root 1 is not a rank (there are 1)");
    ck_fails(soma_dist_all_reduce_sum(d, NULL, 3), SOMA_ERR_INVALID_ARG, "'data'");
    ck_fails(soma_dist_any(d, NULL), SOMA_ERR_INVALID_ARG, "'flag'");
    ck_fails(soma_dist_open(NULL), SOMA_ERR_INVALID_ARG, "'out'");
    ck_assert_int_eq(soma_dist_checked_steps(d), 0);
    soma_dist_fail(d, 1); /* nothing to end in one process: returns */
    soma_dist_close(d);
    soma_dist_close(NULL);
}
END_TEST

/* Every rank count and awkward batch: the shards of a full batch and of the
 * last, partial one are disjoint, in rank order, and cover them; the weights
 * (a shard's share) add up to the batch. */
START_TEST(shards_cover_every_row_once) {
    const int ranks[] = {1, 2, 3, 7};
    const int64_t batches[] = {1, 7, 14, 129, 128, 258, 1000};
    const int64_t rows[] = {1, 7, 129, 601, 1000, 5000};
    int tried = 0;
    for (size_t n = 0; n < sizeof ranks / sizeof ranks[0]; n++)
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
                soma_dist d = {.size = ranks[n]};
                int64_t batch = batches[b] < rows[r] ? batches[b] : rows[r], part = rows[r] % batch;
                soma_clear_error();
                soma_status st = soma_dist_check_batch(&d, batches[b], rows[r]);
                int splits = batch % ranks[n] == 0 && (part == 0 || part >= ranks[n]);
                ck_assert_msg((st == SOMA_OK) == splits, "%d ranks, batch %lld, rows %lld: %s", ranks[n],
                              (long long)batches[b], (long long)rows[r], soma_last_error());
                if (!splits) {
                    ck_assert(strstr(soma_last_error(), batch % ranks[n] ? "does not split" : "cannot give each"));
                    continue;
                }
                int64_t next_full = 0, next_part = 0;
                for (int k = 0; k < ranks[n]; k++) {
                    d.rank = k;
                    soma_shard s = soma_dist_shard(&d, batches[b], rows[r]);
                    ck_assert_int_eq(s.batch_first, next_full);
                    ck_assert_int_eq(s.part_first, next_part);
                    ck_assert_int_eq(s.batch, batch / ranks[n]);
                    ck_assert(part == 0 ? s.part == 0 : s.part >= 1);
                    next_full += s.batch;
                    next_part += s.part;
                }
                ck_assert_int_eq(next_full, batch);
                ck_assert_int_eq(next_part, part);
                tried++;
            }
    ck_assert_int_gt(tried, 50);
    ck_assert_int_eq(soma_dist_check_batch(NULL, 7, 9), SOMA_OK);
}
END_TEST

/* Rank 0's dropout stream is the single process's; others differ. */
START_TEST(dropout_streams_per_rank) {
    soma_dist d = {.size = 3};
    uint64_t key = TEST_SEED;
    ck_assert(soma_dist_dropout_key(NULL, key) == key);
    ck_assert(soma_dist_dropout_key(&d, key) == key);
    d.rank = 1;
    uint64_t k1 = soma_dist_dropout_key(&d, key);
    d.rank = 2;
    uint64_t k2 = soma_dist_dropout_key(&d, key);
    ck_assert(k1 != key && k2 != key && k1 != k2);
}
END_TEST

/* 129 rows, 7 features, 3 classes (seed TEST_SEED): a model trained with a
 * single-process soma_dist holds exactly the weights of one trained
 * without (with dropout, so the streams are compared too). */
static void train_once(soma_dist *dist, float *weights, int64_t n) {
    soma_device *dev;
    ck_soma(soma_device_open("cpu", &dev));
    soma_dataset *ds;
    ck_soma(soma_dataset_create(129, 7, 1, &ds));
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int64_t i = 0; i < 129; i++) {
        for (int j = 0; j < 7; j++) x[i * 7 + j] = (float)sin((double)(i * 7 + j) * 0.37 + (double)(TEST_SEED % 1000));
        y[i] = (float)(i % 3);
    }
    soma_mlp *m;
    soma_layer_spec layers[2] = {{.units = 16, .act = SOMA_ACT_RELU, .dropout = 0.2f},
                                 {.units = 3, .act = SOMA_ACT_IDENTITY}};
    ck_soma(soma_mlp_create(dev, 7, layers, 2, &m));
    ck_soma(soma_mlp_init(m, SOMA_INIT_AUTO, TEST_SEED));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    soma_optimizer *o;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 14, .epochs = 3, .seed = TEST_SEED, .dist = dist};
    soma_train_state state = {0};
    ck_soma(soma_train(m, o, ds, NULL, &tc, &state));
    int64_t at = 0;
    for (int l = 0; l < 2; l++) {
        soma_tensor *w = soma_mlp_weight(m, l), *b = soma_mlp_bias(m, l);
        ck_assert_int_le(at + soma_tensor_numel(w) + soma_tensor_numel(b), n);
        ck_soma(soma_tensor_download(w, weights + at, (size_t)soma_tensor_numel(w)));
        at += soma_tensor_numel(w);
        ck_soma(soma_tensor_download(b, weights + at, (size_t)soma_tensor_numel(b)));
        at += soma_tensor_numel(b);
    }
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_dataset_free(ds);
    soma_device_close(dev);
}

START_TEST(single_process_trains_as_without) {
    enum { N = 7 * 16 + 16 + 16 * 3 + 3 };
    float without[N], with[N];
    printf("single_process_trains_as_without: seed %llu\n", (unsigned long long)TEST_SEED);
    train_once(NULL, without, N);
    soma_dist *d = open_single();
    train_once(d, with, N);
    soma_dist_close(d);
    ck_assert_msg(memcmp(without, with, sizeof with) == 0, "a single-process soma_dist changed the weights");
}
END_TEST

int main(void) {
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("single process");
    tcase_add_test(tc, single_process_is_the_identity);
    tcase_add_test(tc, shards_cover_every_row_once);
    tcase_add_test(tc, dropout_streams_per_rank);
    tcase_add_test(tc, single_process_trains_as_without);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
