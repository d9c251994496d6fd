/* kill_test.c SOMA [KILLS]: crash-safe checkpoints under SIGKILL.
 *
 * Starts `soma train --save-every 1` on a model with a 12 MiB checkpoint and
 * one step per epoch, waits until a first checkpoint exists and a later save
 * has begun (its temporary file appears beside the target), then kills the
 * process with SIGKILL after a pseudo-random 0-24 ms (about the length of the
 * write), so the kill points spread over writing, fsync and rename.
 * Repeated KILLS times (default 80; at least half must interrupt the write). After every kill the target must hold a
 * complete checkpoint: it loads and its checksum holds. A temporary file
 * still there afterwards shows the kill interrupted the write. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "soma.h"

static int count_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void remove_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: kill_test SOMA [KILLS]\n");
        return 2;
    }
    int kills = argc > 2 ? atoi(argv[2]) : 80;
    char dir[] = "/tmp/soma_kill_XXXXXX", csv[128], path[128], data_arg[160];
    if (!mkdtemp(dir)) return 1;
    snprintf(csv, sizeof csv, "%s/data.csv", dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(data_arg, sizeof data_arg, "csv:%s", csv);
    FILE *f = fopen(csv, "w");
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 8; j++) fprintf(f, "%d,", (i * 7 + j * 3) % 10);
        fprintf(f, "%d\n", i % 2);
    }
    fclose(f);

    soma_device *cpu = NULL;
    if (soma_device_open("cpu", &cpu) != SOMA_OK) return 1;
    unsigned long long state = 20261121;
    int during_save = 0, before_first = 0, complete = 0, bad = 0;
    for (int k = 0; k < kills; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            execl(argv[1], argv[1], "train", "--data", data_arg, "--layers", "8,1024,1024,2", "--epochs",
                  "1000000", "--batch", "16", "--val-split", "0", "--dropout", "0", "--schedule", "constant",
                  "--device", "cpu", "--save", path, "--save-every", "1", (char *)NULL);
            _exit(127);
        }
        /* wait for a previous checkpoint, then for the next save to begin */
        struct stat st;
        int waited = 0;
        while ((stat(path, &st) != 0 || count_temporaries(dir) == 0) && waited++ < 20000) {
            struct timespec tick = {0, 200000L};
            nanosleep(&tick, NULL);
        }
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        long delay_us = (long)((state >> 33) % 24000);
        struct timespec ts = {0, delay_us * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status)) {
            fprintf(stderr, "kill %d: soma exited by itself with %d (cannot start?)\n", k, WEXITSTATUS(status));
            return 1;
        }
        during_save += count_temporaries(dir) > 0;
        remove_temporaries(dir); /* what a user would clean; the next run starts fresh */
        if (stat(path, &st) != 0) {
            before_first++;
            continue;
        }
        soma_mlp *m = NULL;
        soma_checkpoint_info info;
        if (soma_checkpoint_load(path, cpu, &m, &info) == SOMA_OK && info.state.epochs_done >= 1) {
            complete++;
        } else {
            bad++;
            fprintf(stderr, "kill %d, %ld us into a save: %s\n", k, delay_us, soma_last_error());
        }
        soma_normalizer_free(&info.normalizer);
        soma_mlp_free(m);
    }
    printf("%d kills 0-24 ms into a save: %d interrupted the write (a temporary file was left); the target "
           "held a complete checkpoint after %d, a broken one after %d, none after %d\n",
           kills, during_save, complete, bad, before_first);
    unlink(path);
    unlink(csv);
    rmdir(dir);
    soma_device_close(cpu);
    return bad == 0 && before_first == 0 && complete == kills && during_save >= kills / 2 ? 0 : 1;
}
