/* cli_common.h: what several commands share: JSON output and --threads. */
#ifndef SOMA_TOOLS_CLI_COMMON_H
#define SOMA_TOOLS_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

/* s as a JSON string, quoted and escaped ("null" when it cannot be). */
void cli_json_string(FILE *to, const char *s);

/* v as a JSON number, "null" for NaN and infinities (JSON has none). */
void cli_json_number(FILE *to, double v);

/* A float as JSON in the fewest digits that read back as the same float
 * (0.1, not 0.100000001); "null" when not finite. */
void cli_json_float(FILE *to, float v);

/* --threads N: the CPU backend's threads (OpenMP) from now on. 0 (the
 * option not given) leaves the default (OMP_NUM_THREADS, else one per
 * core). Returns 0, or 2 after a one-line error (N out of [1, 4096], or a
 * build without OpenMP asked for more than one). */
int cli_set_threads(const char *command, int64_t threads);

#endif
