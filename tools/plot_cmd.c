/* plot_cmd.c: `soma plot METRICS.csv -o curves.svg`: training curves from the
 * per-epoch metrics that `soma train --log` writes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "file_guard.h"
#include "options.h"
#include "plot.h"

int soma_cmd_plot(int argc, char **argv) {
    const char *output = NULL, *metrics = NULL, *title = NULL;
    const option opts[] = {
        {"-o", OPT_STRING, &output, "the figure: a .svg, .png or .pdf file"},
        {"--output", OPT_STRING, &output, "the same as -o"},
        {"--metrics", OPT_STRING, &metrics, "the metrics CSV (or give it as the first argument)"},
        {"--title", OPT_STRING, &title, "title of the figure (training curves: <CSV name>)"},
    };
    const int n_opts = sizeof opts / sizeof opts[0];
    const char *synopsis = "soma plot METRICS.csv -o CURVES.svg|png|pdf [--title TEXT]";

    /* The one positional argument (the CSV) is taken out before the options
     * are parsed; an argument that is an option's value stays where it is. */
    char *rest[64];
    int n_rest = 0;
    if (argc > (int)(sizeof rest / sizeof rest[0])) {
        fprintf(stderr, "soma plot: too many arguments (%s)\n", synopsis);
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && a[0] != '-' && !metrics) {
            metrics = a;
            continue;
        }
        rest[n_rest++] = argv[i];
        for (int k = 0; i > 0 && k < n_opts; k++)
            if (strcmp(a, opts[k].name) == 0 && i + 1 < argc) rest[n_rest++] = argv[++i];
    }
    int code = options_parse("plot", synopsis, n_rest, rest, opts, n_opts, NULL);
    if (code) return code < 0 ? 0 : code;
    if (!metrics) {
        fprintf(stderr, "soma plot: which metrics file? (%s)\n", synopsis);
        return 2;
    }
    if (!output) {
        fprintf(stderr, "soma plot: -o FILE is required (%s)\n", synopsis);
        return 2;
    }
    file_guard g;
    memset(&g, 0, sizeof g);
    guard_input(&g, "metrics", metrics);
    guard_output(&g, "-o", output, 0);
    code = guard_check(&g, "plot");
    guard_free(&g);
    if (code) return code;
    code = plot_metrics_file("plot", metrics, output, title);
    if (!code) printf("wrote %s\n", output);
    return code;
}
