/* cli.h: the soma command's subcommands. Each returns the process exit code:
 * 0 success, 1 a failed check or run, 2 bad usage. Results go to standard
 * output, progress and errors to standard error. */
#ifndef SOMA_TOOLS_CLI_H
#define SOMA_TOOLS_CLI_H

int soma_cmd_check(int argc, char **argv);
int soma_cmd_train(int argc, char **argv);
int soma_cmd_eval(int argc, char **argv);
int soma_cmd_predict(int argc, char **argv);
int soma_cmd_summary(int argc, char **argv);
int soma_cmd_plot(int argc, char **argv);
int soma_cmd_fetch(int argc, char **argv);

#endif
