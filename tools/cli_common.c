/* cli_common.c: see cli_common.h. */
#include <math.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli_common.h"
#include "io/json.h"

void cli_json_string(FILE *to, const char *s) {
    soma_json_buf b = {0};
    soma_json_buf_append_string(&b, s ? s : "");
    fputs(b.failed ? "null" : b.data, to);
    soma_json_buf_free(&b);
}

void cli_json_number(FILE *to, double v) {
    if (isfinite(v))
        fprintf(to, "%.9g", v);
    else
        fputs("null", to);
}

void cli_json_float(FILE *to, float v) {
    if (!isfinite(v)) {
        fputs("null", to);
        return;
    }
    char text[32];
    for (int digits = 6; digits <= 9; digits++) { /* the shortest that reads back as v */
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    fputs(text, to);
}

int cli_set_threads(const char *command, int64_t threads) {
    if (threads == 0) return 0;
    if (threads < 1 || threads > 4096) {
        fprintf(stderr, "soma %s: --threads must be in [1, 4096], got %lld\n", command, (long long)threads);
        return 2;
    }
#ifdef _OPENMP
    omp_set_num_threads((int)threads);
#else
    if (threads > 1) {
        fprintf(stderr, "soma %s: --threads %lld: this soma was built without OpenMP and runs on one thread\n",
                command, (long long)threads);
        return 2;
    }
#endif
    return 0;
}
