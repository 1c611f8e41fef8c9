/*
 * jobtype.h - jobcoord-worker's job types: the allow-list read from its
 * configuration file, and the argv and environment of one run.
 *
 * Pure logic (no SDK calls), so it is unit-tested on its own.
 */
#ifndef JC_TOOLS_JOBTYPE_H
#define JC_TOOLS_JOBTYPE_H

#include <stddef.h>

#define JT_MAX_TYPES 64              /* the SDK announces at most 64 capabilities */
#define JT_MAX_NAME 64               /* job type names: [A-Za-z0-9._:@-]{1,64} */
#define JT_MAX_FIXED_ARGS 64         /* job.<type>.args items */
#define JT_MAX_ENV 64                /* job.<type>.env.NAME keys */
#define JT_DEFAULT_MAX_ARGS 256      /* payload arguments, unless job.<type>.max_args */
#define JT_MAX_ARGS_LIMIT 4096       /* highest job.<type>.max_args */
#define JT_ARG_MAX_BYTES 131071      /* one argument (Linux MAX_ARG_STRLEN less the NUL) */
#define JT_DEFAULT_KILL_GRACE_MS 5000
#define JT_DEFAULT_RESULT_BYTES 4096
#define JT_MAX_RESULT_BYTES 262144   /* the protocol's result limit */
#define JT_DEFAULT_MAX_LOG_LINES 10000
#define JT_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct jobtype {
    char name[JT_MAX_NAME + 1];
    char *command;                   /* absolute path of the program */
    char *args[JT_MAX_FIXED_ARGS];   /* fixed arguments, before the payload's */
    int n_args;
    char *env_names[JT_MAX_ENV];     /* extra environment variables */
    char *env_values[JT_MAX_ENV];
    int n_env;
    char *cwd;                       /* NULL: "/" */
    long timeout_ms;                 /* 0: none */
    long kill_grace_ms;              /* SIGTERM to SIGKILL */
    int max_args;                    /* payload arguments allowed */
    int payload_options;             /* may a payload argument start with '-'? */
    long result_bytes;               /* tail of stdout kept as the result; 0: none */
    long max_log_lines;              /* lines reported per run; 0: none */
    unsigned char retry_codes[32];   /* bitmap of exit statuses that ask for a retry */
} jobtype;

typedef struct jobtypes {
    jobtype t[JT_MAX_TYPES];
    int n;
} jobtypes;

/* jt_sdk_set_fn applies one key that is not a "job." key (jc_conf_set in
 * the worker); returns 0, or -1 with err filled. */
typedef int (*jt_sdk_set_fn)(const char *name, const char *value, void *arg, char *err,
                             size_t err_size);

/* jobtypes_load_file reads a configuration file of "name = value" lines
 * (the SDK's format: '#' comments, blank lines, lines under 4096 bytes):
 * "job.*" keys go to jt, the others to sdk_set. Returns 0, -1 when the file
 * cannot be read (err says why), -2 when a line is invalid (err names the
 * file, line and key). */
int jobtypes_load_file(jobtypes *jt, const char *path, jt_sdk_set_fn sdk_set, void *arg, char *err,
                       size_t err_size);

/* jobtypes_set applies one "job.<type>.<field>" key. 0, or -1 with err. */
int jobtypes_set(jobtypes *jt, const char *name, const char *value, char *err, size_t err_size);

/* jobtypes_check validates the table once loaded: at least one type, each
 * with an absolute, executable command and an existing directory. */
int jobtypes_check(const jobtypes *jt, char *err, size_t err_size);

/* jobtypes_free frees what the table holds (not jt itself). */
void jobtypes_free(jobtypes *jt);

/* jobtype_retry_code says whether exit status code asks for a retry. */
int jobtype_retry_code(const jobtype *t, int code);

/* jobtype_argv builds the argv of one run: the command, the fixed args,
 * then the payload's arguments. The payload is a sequence of arguments
 * each ended by a NUL byte; the last one's NUL may be left out; an empty
 * payload has no arguments. Returns one malloc'd block (free it with
 * free()) that points into t and into its own copy of the payload; NULL
 * with *bad_payload = 1 and err when the payload breaks a limit, NULL with
 * *bad_payload = 0 when out of memory. */
char **jobtype_argv(const jobtype *t, const void *payload, size_t len, int *bad_payload, char *err,
                    size_t err_size);

/* jobtype_envp builds the environment of one run: PATH (unless the type
 * sets it), the type's variables, JOBCOORD_JOB_ID, JOBCOORD_JOB_TYPE and
 * JOBCOORD_JOB_ATTEMPT. One malloc'd block, or NULL when out of memory. */
char **jobtype_envp(const jobtype *t, const char *job_id, unsigned attempt);

#endif
