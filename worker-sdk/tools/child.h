/*
 * child.h - runs one program for jobcoord-worker and watches it to the end:
 * its output as lines, cancellation, timeout, and its exit.
 */
#ifndef JC_TOOLS_CHILD_H
#define JC_TOOLS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

typedef struct child_spec {
    const char *path;    /* absolute path, run with execve (no PATH lookup, no shell) */
    char *const *argv;
    char *const *envp;
    const char *cwd;     /* NULL: "/" */
    long timeout_ms;     /* 0: no limit */
    long kill_grace_ms;  /* SIGTERM to SIGKILL */
} child_spec;

/* Callbacks, all called on the thread that runs child_run. */
typedef struct child_io {
    /* on_line gets each line of stdout or stderr ("stdout", "stderr"): valid
     * UTF-8, 1..4096 bytes (see capture.h). */
    void (*on_line)(const char *stream, const char *line, void *arg);
    /* on_stdout gets stdout's raw bytes (for the result). May be NULL. */
    void (*on_stdout)(const char *data, size_t n, void *arg);
    /* canceled is polled (at least every 100 ms); nonzero stops the
     * program. May be NULL. */
    int (*canceled)(void *arg);
    void *arg;
} child_io;

typedef enum child_end {
    CHILD_EXITED,       /* status: its exit status */
    CHILD_SIGNALED,     /* status: the signal that killed it (not sent by us) */
    CHILD_TIMED_OUT,    /* stopped after timeout_ms */
    CHILD_CANCELED,     /* stopped because canceled() said so */
    CHILD_SPAWN_FAILED, /* never ran: err and step say why */
} child_end;

typedef struct child_result {
    child_end end;
    int status;
    int err;            /* errno, CHILD_SPAWN_FAILED */
    const char *step;   /* "pipe", "fork", "chdir", "execve", ... */
} child_result;

/* child_run starts spec->path in a new process group with stdin on
 * /dev/null and stdout/stderr on pipes, reports its output through io,
 * and returns once it exited and was reaped, with every other process left
 * in its group killed. To stop it (cancellation, timeout) the group gets
 * SIGTERM, then SIGKILL after kill_grace_ms. The process's descriptors 0, 1
 * and 2 must be open. Safe to call from several threads at once. */
void child_run(const child_spec *spec, const child_io *io, child_result *res);

/* child_describe writes the outcome as an error text: "exit status 3",
 * "killed by signal 9", "timed out after 5000 ms", "cannot run PATH: ...". */
void child_describe(const child_spec *spec, const child_result *res, char *buf, size_t size);

#endif
