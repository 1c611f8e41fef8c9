/*
 * admin_main.c - jobcoord-admin's entry point: the command line, help, and
 * `db migrate`.
 *
 * The command line is `jobcoord-admin [global options] GROUP COMMAND
 * [args] [options]` (or a one-word command such as `status`). Global
 * options (-c/--config, --set, --json, -h/--help, --version) are accepted
 * before the command words and among the command's own options; a command's
 * own option wins over a global one of the same name (`worker config --set`),
 * so such a global option must then come before the command words. Options
 * are looked up in the command's table, which also produces its --help, so a
 * command cannot accept an option it does not document.
 *
 * Configuration is the daemon's: defaults, then the file (-c, else
 * $JOBCOORD_CONFIG), then JOBCOORD_* variables, then --set flags in order.
 */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include <jobcoord/jobcoord.h>

#include "core/db.h"
#include "core/log.h"
#include "jcproto/json.h"

#define MAX_SETS 64

typedef struct global_opts {
    const char *config_path;
    const char *sets[MAX_SETS];
    int n_sets;
    int json;
    int help;
    int version;
} global_opts;

/* cmd_db_migrate applies the pending schema migrations. */
static int cmd_db_migrate(admin_ctx *ctx, const admin_args *a)
{
    char err[512];
    int applied = 0, version, rc;

    rc = admin_db(ctx, 0);
    if (rc)
        return rc;
    if (jc_db_migrate(ctx->db, &applied, err, sizeof err) != 0)
        return admin_fail(ADMIN_SYSERR, "migration failed: %s", err);
    version = jc_db_schema_version(ctx->db);
    if (ctx->json)
        return admin_json_print(json_pack("{s:i,s:i}", "applied", applied, "version", version));
    else
        printf("applied %d migration%s; schema version %d\n", applied, applied == 1 ? "" : "s",
               version);
    return ADMIN_OK;
}

static const admin_cmd db_commands[] = {
    {"db", "migrate", "", "Apply the pending schema migrations.",
     "Only this command changes the schema; every other command refuses to run against\n"
     "a database whose schema is behind this program. Safe to run again, and from\n"
     "several hosts at once: each migration runs once, under an advisory lock.",
     0, {{NULL, NULL, NULL}}, cmd_db_migrate},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

/* db_cmds is the table of the `db` group (only `migrate`, kept here). */
static const admin_cmd *db_cmds(void)
{
    return db_commands;
}

typedef const admin_cmd *(*table_fn)(void);
static const table_fn tables[] = {admin_user_commands,          admin_user_change_commands,
                                  admin_credentials_commands,   admin_sessions_commands,
                                  admin_worker_commands,        admin_worker_control_commands,
                                  admin_worker_delete_commands, admin_command_commands,
                                  admin_job_commands,           admin_job_control_commands,
                                  admin_job_purge_commands,     admin_security_commands,
                                  admin_audit_commands,         db_cmds};
#define N_TABLES (sizeof tables / sizeof tables[0])

static const char global_help[] =
    "Global options:\n"
    "  -c, --config FILE      configuration file (default: $JOBCOORD_CONFIG, else\n"
    "                         none: built-in defaults and JOBCOORD_* variables)\n"
    "  --set KEY=VALUE        override one configuration key (repeatable)\n"
    "  --json                 machine-readable output\n"
    "  -h, --help             show help (of the command given before it)\n"
    "  --version              show the version\n";

static const char exit_help[] =
    "Exit codes: 0 ok, 1 refused (not found, already exists, invalid value),\n"
    "100 usage error, 111 system error (configuration, database, keys file).\n";

/* find_cmd returns the command (group, name); group NULL looks for a
 * one-word command. */
static const admin_cmd *find_cmd(const char *group, const char *name)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const admin_cmd *c = tables[t](); c->name; c++) {
            int same_group = group ? (c->group && strcmp(c->group, group) == 0) : !c->group;
            if (same_group && strcmp(c->name, name) == 0)
                return c;
        }
    }
    return NULL;
}

/* is_group tells whether word names a command group. */
static int is_group(const char *word)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const admin_cmd *c = tables[t](); c->name; c++) {
            if (c->group && strcmp(c->group, word) == 0)
                return 1;
        }
    }
    return 0;
}

/* print_cmd_line prints a command's words and summary for the overview. */
static void print_cmd_line(FILE *f, const admin_cmd *c)
{
    char words[64];

    snprintf(words, sizeof words, "%s%s%s", c->group ? c->group : "", c->group ? " " : "",
             c->name);
    fprintf(f, "  %-22s %s\n", words, c->summary);
}

/* print_main_help lists every command (of group, or all when NULL). */
static void print_main_help(FILE *f, const char *group)
{
    fprintf(f, "Usage: jobcoord-admin [global options] %s%s [arguments] [options]\n\n",
            group ? group : "", group ? " COMMAND" : "COMMAND");
    fprintf(f, "Manage a jobcoord installation: principals, their keys and logins, workers,\n"
               "jobs, status, token signing keys, encryption of secrets at rest, and the\n"
               "database schema.\n\nCommands:\n");
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const admin_cmd *c = tables[t](); c->name; c++) {
            if (!group || (c->group && strcmp(c->group, group) == 0))
                print_cmd_line(f, c);
        }
    }
    fprintf(f, "\n%s\n%s\nRun 'jobcoord-admin COMMAND --help' for a command's options.\n",
            global_help, exit_help);
}

/* print_cmd_help prints a command's --help, generated from its table row. */
static void print_cmd_help(FILE *f, const admin_cmd *c)
{
    fprintf(f, "Usage: jobcoord-admin %s%s%s %s\n\n%s\n", c->group ? c->group : "",
            c->group ? " " : "", c->name, c->synopsis, c->summary);
    if (c->details)
        fprintf(f, "\n%s\n", c->details);
    if (c->opts[0].name) {
        fputs("\nOptions:\n", f);
        for (int i = 0; i < ADMIN_MAX_OPTS && c->opts[i].name; i++) {
            char spec[64];
            snprintf(spec, sizeof spec, "--%s%s%s", c->opts[i].name, c->opts[i].arg ? " " : "",
                     c->opts[i].arg ? c->opts[i].arg : "");
            fprintf(f, "  %-22s %s\n", spec, c->opts[i].help);
        }
    }
    fprintf(f, "\n%s\n%s", global_help, exit_help);
}

/* take_value gets an option's value from "--name=value" or the next
 * argument. Returns NULL when it is missing. */
static const char *take_value(const char *eq, int argc, char **argv, int *i)
{
    if (eq)
        return eq + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* parse_global handles argv[*i] if it is a global option: 1 handled, 0 not
 * a global option, -1 usage error (printed). */
static int parse_global(global_opts *g, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *v;

    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        g->help = 1;
    } else if (strcmp(arg, "--json") == 0) {
        g->json = 1;
    } else if (strcmp(arg, "--version") == 0) {
        g->version = 1;
    } else if (strcmp(arg, "-c") == 0 || (len == 8 && strncmp(arg, "--config", 8) == 0)) {
        v = take_value(arg[1] == 'c' ? NULL : eq, argc, argv, i);
        if (!v) {
            fprintf(stderr, "jobcoord-admin: %s needs a FILE\n", arg);
            return -1;
        }
        g->config_path = v;
    } else if (len == 5 && strncmp(arg, "--set", 5) == 0) {
        v = take_value(eq, argc, argv, i);
        if (!v || !strchr(v, '=')) {
            fprintf(stderr, "jobcoord-admin: --set needs KEY=VALUE\n");
            return -1;
        }
        if (g->n_sets == MAX_SETS) {
            fprintf(stderr, "jobcoord-admin: more than %d --set flags\n", MAX_SETS);
            return -1;
        }
        g->sets[g->n_sets++] = v;
    } else {
        return 0;
    }
    return 1;
}

/* parse_cmd_opt handles argv[*i] if it is one of the command's options:
 * 1 handled, 0 not one of them, -1 usage error (printed). */
static int parse_cmd_opt(admin_args *a, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

    if (arg[1] != '-')
        return 0;
    for (int o = 0; o < ADMIN_MAX_OPTS && a->cmd->opts[o].name; o++) {
        const admin_opt *opt = &a->cmd->opts[o];

        if (strlen(opt->name) != len || strncmp(arg + 2, opt->name, len) != 0)
            continue;
        if (!opt->arg) {
            if (eq) {
                admin_usage(a, "option --%s takes no value", opt->name);
                return -1;
            }
            a->val[o] = "";
        } else {
            a->val[o] = take_value(eq, argc, argv, i);
            if (!a->val[o]) {
                admin_usage(a, "option --%s needs a %s", opt->name, opt->arg);
                return -1;
            }
        }
        if (a->ngiven == ADMIN_MAX_GIVEN) {
            admin_usage(a, "more than %d options", ADMIN_MAX_GIVEN);
            return -1;
        }
        a->given[a->ngiven].opt = o;
        a->given[a->ngiven].value = a->val[o];
        a->ngiven++;
        return 1;
    }
    return 0;
}

/* parse_cmd_args parses what follows the command words. Returns 0 or
 * ADMIN_USAGE (printed). */
static int parse_cmd_args(global_opts *g, admin_args *a, int argc, char **argv, int i)
{
    int only_pos = 0;

    for (; i < argc; i++) {
        const char *arg = argv[i];
        int handled;

        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            if (a->npos == ADMIN_MAX_POS)
                return admin_usage(a, "too many arguments");
            a->pos[a->npos++] = arg;
            continue;
        }
        handled = parse_cmd_opt(a, argc, argv, &i);
        if (handled == 0)
            handled = parse_global(g, argc, argv, &i);
        if (handled < 0)
            return ADMIN_USAGE;
        if (!handled)
            return admin_usage(a, "unknown option '%s'", arg);
    }
    return 0;
}

/* load_config builds ctx->cfg from the file, environment and --set flags. */
static int load_config(admin_ctx *ctx, const global_opts *g)
{
    char err[512];

    if (jc_config_load(&ctx->cfg, g->config_path, err, sizeof err) != 0)
        return admin_fail(ADMIN_SYSERR, "configuration: %s", err);
    for (int i = 0; i < g->n_sets; i++) {
        char key[128];
        const char *eq = strchr(g->sets[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - g->sets[i]), g->sets[i]);
        if (jc_config_set(&ctx->cfg, key, eq + 1, err, sizeof err) != 0)
            return admin_fail(ADMIN_USAGE, "--set %s: %s", g->sets[i], err);
    }
    if (jc_log_setup(ctx->cfg.log_level, ctx->cfg.log_format) != 0)
        return admin_fail(ADMIN_SYSERR, "cannot set up logging");
    return ADMIN_OK;
}

int main(int argc, char **argv)
{
    global_opts g;
    admin_args a;
    admin_ctx ctx;
    const admin_cmd *cmd = NULL;
    const char *group = NULL;
    int i = 1, rc = ADMIN_USAGE;

    jc_json_wipe_on_free(); /* the CLI writes keys and secrets */
    memset(&g, 0, sizeof g);
    memset(&a, 0, sizeof a);
    memset(&ctx, 0, sizeof ctx);
    for (; i < argc && argv[i][0] == '-'; i++) {
        int handled = parse_global(&g, argc, argv, &i);
        if (handled < 0)
            goto out;
        if (!handled) {
            fprintf(stderr, "jobcoord-admin: unknown option '%s' (try --help)\n", argv[i]);
            goto out;
        }
    }
    if (g.version) {
        printf("jobcoord-admin %s\n", JC_VERSION_STR);
        rc = ADMIN_OK;
        goto out;
    }
    if (i == argc) {
        print_main_help(g.help ? stdout : stderr, NULL);
        rc = g.help ? ADMIN_OK : ADMIN_USAGE;
        goto out;
    }
    cmd = find_cmd(NULL, argv[i]);
    if (!cmd && is_group(argv[i])) {
        group = argv[i++];
        while (i < argc && argv[i][0] == '-' && parse_global(&g, argc, argv, &i) > 0)
            i++;
        if (i == argc || argv[i][0] == '-') {
            if (i == argc && g.help) {
                print_main_help(stdout, group);
                rc = ADMIN_OK;
            } else {
                fprintf(stderr, "jobcoord-admin: '%s' needs a command\n", group);
                print_main_help(stderr, group);
            }
            goto out;
        }
        cmd = find_cmd(group, argv[i]);
    }
    if (!cmd) {
        fprintf(stderr, "jobcoord-admin: unknown command '%s%s%s' (try --help)\n",
                group ? group : "", group ? " " : "", argv[i]);
        goto out;
    }
    a.cmd = cmd;
    rc = parse_cmd_args(&g, &a, argc, argv, i + 1);
    if (rc)
        goto out;
    if (g.help) {
        print_cmd_help(stdout, cmd);
        goto out;
    }
    if (cmd->nargs >= 0 && a.npos != cmd->nargs) { /* -1: the handler counts them */
        rc = admin_usage(&a, "expects %d argument%s, got %d", cmd->nargs,
                         cmd->nargs == 1 ? "" : "s", a.npos);
        goto out;
    }
    rc = load_config(&ctx, &g);
    if (rc)
        goto out;
    ctx.json = g.json;
    rc = cmd->run(&ctx, &a);
    admin_audit_after(&ctx, &a, rc);
out:
    fflush(stdout);
    if (ctx.db)
        PQfinish(ctx.db);
    jc_keyring_free(ctx.kr);
    jc_config_free(&ctx.cfg);
    return rc;
}
