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

    const char *args[1];
    int n_args = 0;
    int code = options_parse_args("plot", synopsis, argc, argv, opts, n_opts, NULL, args, 1, &n_args);
    if (code) return code < 0 ? 0 : code;
    if (n_args && metrics) {
        fprintf(stderr, "soma plot: the metrics file is given twice ('%s' and --metrics %s)\n", args[0], metrics);
        return 2;
    }
    if (n_args) metrics = args[0];
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
