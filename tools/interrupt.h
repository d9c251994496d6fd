/* interrupt.h: SIGINT (Ctrl-C) and SIGTERM.
 *
 * A command that can stop cleanly between steps (soma train) asks for a
 * graceful first signal: it only records the signal in interrupt_signal,
 * which the training loop reads after every step (soma_train_config::stop);
 * the command then saves what it has, says so and exits 128 + the signal
 * (130 for SIGINT, 143 for SIGTERM). A second signal, or the first one in a
 * command with nothing to finish, removes the temporary files being written
 * (a save in progress: io/files.h) and exits at once with that code. A
 * signal that was ignored when soma started (nohup) stays ignored. */
#ifndef SOMA_TOOLS_INTERRUPT_H
#define SOMA_TOOLS_INTERRUPT_H

#include <signal.h>

extern volatile sig_atomic_t interrupt_signal; /* 0, or the first signal received */

/* Installs the handler for SIGINT and SIGTERM (again to switch modes). */
void interrupt_install(int graceful);

/* 128 + the signal received; 0 when none was. */
int interrupt_exit_code(void);

/* "SIGINT", "SIGTERM" */
const char *interrupt_name(void);

#endif
