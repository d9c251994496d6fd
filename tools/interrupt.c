/* interrupt.c: see interrupt.h. */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <unistd.h>

#include "interrupt.h"
#include "io/files.h"

volatile sig_atomic_t interrupt_signal;
static volatile sig_atomic_t graceful;

static void say(const char *text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored; /* nothing more can be done about a failed message here */
}

/* Only async-signal-safe calls: write, unlink (inside remove_temporaries), _exit. */
static void on_signal(int sig) {
    if (graceful && !interrupt_signal) {
        interrupt_signal = sig;
        say(sig == SIGINT ? "\nsoma: SIGINT: stopping after the current step (again to stop at once)\n"
                          : "\nsoma: SIGTERM: stopping after the current step (again to stop at once)\n");
        return;
    }
    soma_output_remove_temporaries();
    _exit(128 + sig);
}

void interrupt_install(int want_graceful) {
    graceful = want_graceful;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes in progress go on */
    const int signals[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        /* a signal ignored when soma started (nohup, a background job of a
         * script) stays ignored, as the one who started it asked */
        if (sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(signals[i], &sa, NULL);
    }
}

int interrupt_exit_code(void) { return interrupt_signal ? 128 + interrupt_signal : 0; }

const char *interrupt_name(void) {
    return interrupt_signal == SIGINT ? "SIGINT" : interrupt_signal == SIGTERM ? "SIGTERM" : "no signal";
}
