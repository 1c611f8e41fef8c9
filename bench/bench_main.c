/*
 * bench_main.c - jobcoord-bench: the command line and the order of the
 * scenarios.
 *
 * heartbeats: one step at --rate; when the lag does not stay bounded, one
 *             more step at 90% of the rate that was applied, to report a
 *             rate sustained at bounded lag.
 * jobs:       one step at --job-rate.
 * latency:    one step at --latency-rate, by default half the completion
 *             rate the jobs step sustained.
 * compare:    the phases bench/compare puts beside a PostgreSQL job queue's
 *             (bench_compare.c); it prints figures, it writes no report.
 * A figure that misses its target never fails the run: exit 0 whenever the
 * scenarios ran.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

#define EXIT_USAGE 100
#define EXIT_SYSTEM 111

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jobcoord-bench --brokers LIST --db CONNINFO [options]\n"
            "Drives a running coordinator through Kafka with simulated workers and clients\n"
            "and reports what it sustains. Principals are created with jobcoord-admin.\n\n"
            "  --scenarios LIST     heartbeats,jobs,latency (default: all three), or compare\n"
            "  --brokers LIST       Kafka bootstrap servers of the coordinator\n"
            "  --db CONNINFO        the coordinator's PostgreSQL (principals, measurement)\n"
            "  --topic-prefix P     topic prefix (default jobcoord.)\n"
            "  --group G            the coordinator's consumer group (default jobcoord)\n"
            "  --admin PATH         jobcoord-admin (default: next to this build)\n"
            "  --duration S         seconds per measured step (default 20)\n"
            "  --rate N             heartbeats/s offered (default 50000)\n"
            "  --hb-workers N       workers sending heartbeats (default 2000)\n"
            "  --job-rate N         jobs/s submitted (default 10000)\n"
            "  --workers N          no-op workers in the jobs scenarios (default 20)\n"
            "  --slots N            slots of each no-op worker (default 256)\n"
            "  --clients N          clients submitting jobs (default 4)\n"
            "  --latency-rate N     jobs/s of the latency step (default: half the jobs rate\n"
            "                       sustained)\n"
            "  --warmup S           seconds of a jobs step not counted (default: a quarter of\n"
            "                       --duration, at least 2)\n"
            "  --compare-jobs N     compare: jobs enqueued before the workers start (100000)\n"
            "  --coord-pid PID      compare: the coordinator's pid, for its CPU time per phase\n"
            "  --out FILE           Markdown report (default docs/performance.md; '' none)\n"
            "  --setup TEXT         how the coordinator was run, quoted in the report\n"
            "  --quiet              no per-second progress on stderr\n"
            "  --version            print the version and exit\n"
            "  --help               this text\n\n"
            "Exit codes: 0 the run completed (whatever the figures), 100 usage error,\n"
            "111 system error (Kafka, database or admin CLI unusable).\n");
}

static int parse_num(const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

// default_admin finds jobcoord-admin in the build tree this tool is in.
static void default_admin(char *out, size_t out_size)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;
    snprintf(out, out_size, "jobcoord-admin");
    if (n <= 0)
        return;
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(out, out_size, "%.4000s/../coordinator/jobcoord-admin", self);
}

static char *join_argv(int argc, char **argv)
{
    size_t n = 1;
    char *s;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 3;
    s = calloc(1, n);
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        int quote = strpbrk(argv[i], " \t\"$") != NULL || !*argv[i];
        if (i)
            strcat(s, " ");
        strcat(s, quote ? "'" : "");
        strcat(s, argv[i]);
        strcat(s, quote ? "'" : "");
    }
    return s;
}

static int parse_args(int argc, char **argv, bench_opts *o, char *admin, size_t admin_size)
{
    static const struct option longs[] = {
        {"scenarios", required_argument, NULL, 's'}, {"brokers", required_argument, NULL, 'b'},
        {"db", required_argument, NULL, 'd'},        {"topic-prefix", required_argument, NULL, 'P'},
        {"group", required_argument, NULL, 'g'},     {"admin", required_argument, NULL, 'a'},
        {"duration", required_argument, NULL, 'D'},  {"rate", required_argument, NULL, 'r'},
        {"hb-workers", required_argument, NULL, 'H'}, {"job-rate", required_argument, NULL, 'j'},
        {"workers", required_argument, NULL, 'w'},   {"slots", required_argument, NULL, 'S'},
        {"clients", required_argument, NULL, 'c'},   {"latency-rate", required_argument, NULL, 'l'},
        {"out", required_argument, NULL, 'o'},       {"setup", required_argument, NULL, 'u'},
        {"quiet", no_argument, NULL, 'q'},           {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {"warmup", required_argument, NULL, 'W'},
        {"compare-jobs", required_argument, NULL, 'N'}, {"coord-pid", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    int opt;
    double v;

    memset(o, 0, sizeof *o);
    o->scenarios = "heartbeats,jobs,latency";
    o->prefix = "jobcoord.";
    o->group = "jobcoord";
    o->out = "docs/performance.md";
    o->duration_s = 20;
    o->hb_rate = 50000;
    o->hb_workers = 2000;
    o->job_rate = 10000;
    o->job_workers = 20;
    o->job_slots = 256;
    o->clients = 4;
    o->warmup_s = -1;
    o->compare_jobs = 100000;
    default_admin(admin, admin_size);
    o->admin = admin;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 's': o->scenarios = optarg; break;
        case 'b': o->brokers = optarg; break;
        case 'd': o->db = optarg; break;
        case 'P': o->prefix = optarg; break;
        case 'g': o->group = optarg; break;
        case 'a': o->admin = optarg; break;
        case 'o': o->out = optarg; break;
        case 'u': o->setup = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'D': bad = parse_num(optarg, 3, 3600, &o->duration_s); break;
        case 'r': bad = parse_num(optarg, 1, 1e7, &o->hb_rate); break;
        case 'j': bad = parse_num(optarg, 1, 1e6, &o->job_rate); break;
        case 'l': bad = parse_num(optarg, 1, 1e6, &o->latency_rate); break;
        case 'H': bad = parse_num(optarg, 1, 20000, &v); o->hb_workers = (int)v; break;
        case 'w': bad = parse_num(optarg, 1, 5000, &v); o->job_workers = (int)v; break;
        case 'S': bad = parse_num(optarg, 1, JC_MAX_SLOTS, &v); o->job_slots = (int)v; break;
        case 'c': bad = parse_num(optarg, 1, 1000, &v); o->clients = (int)v; break;
        case 'W': bad = parse_num(optarg, 0, 3600, &o->warmup_s); break;
        case 'N': bad = parse_num(optarg, 1, 10000000, &v); o->compare_jobs = (long)v; break;
        case 'p': bad = parse_num(optarg, 1, 4194304, &v); o->coord_pid = (int)v; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("jobcoord-bench %s\n", JC_VERSION_STR); exit(0);
        default: return -1;
        }
        if (bad) {
            fprintf(stderr, "jobcoord-bench: bad value for --%s: %s\n", argv[optind - 1] + 2,
                    optarg);
            return -1;
        }
    }
    if (optind != argc || !o->brokers || !o->db) {
        fprintf(stderr, "jobcoord-bench: --brokers and --db are required\n");
        return -1;
    }
    return 0;
}

static int wants(const bench_opts *o, const char *scenario)
{
    size_t n = strlen(scenario);
    for (const char *p = o->scenarios; (p = strstr(p, scenario)); p += n)
        if ((p == o->scenarios || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static void print_hb(const hb_result *r)
{
    printf("heartbeats: offered %.0f/s produced %.0f/s applied %.0f/s lag end %lld max %lld: "
           "%s%s%s\n",
           r->offered_rate, r->produced_rate, r->applied_rate, (long long)r->lag_end,
           (long long)r->lag_max, r->bounded ? "sustained at bounded lag" : "lag NOT bounded",
           *r->note ? "; " : "", r->note);
}

static void print_jobs(const char *name, const jobs_result *r)
{
    printf("%s: offered %.0f/s submitted %.0f/s completed %.0f/s (%s); submit->assigned p50 "
           "%.1f ms p99 %.1f ms; submit->completed p50 %.1f ms p99 %.1f ms; submitted %lld "
           "completed %lld incomplete %lld duplicates %lld bad commands %lld; db: %s%s%s\n",
           name, r->offered_rate, r->submitted_rate, r->completed_rate,
           r->kept_up ? "kept up" : "did NOT keep up", r->assign_p50, r->assign_p99, r->done_p50,
           r->done_p99, (long long)r->submitted, (long long)r->completed,
           (long long)r->incomplete, (long long)r->duplicates, (long long)r->bad_commands,
           r->db_states, *r->note ? "; " : "", r->note);
}

int main(int argc, char **argv)
{
    bench_opts o;
    char admin[4200], run[16], prefix[3][64], err[512];
    unsigned char nonce[3];
    hb_result hb[2];
    jobs_result jobs, lat;
    principal *hbw = NULL, *ws = NULL, *cs = NULL;
    int n_hb = 0, have_jobs = 0, have_lat = 0, rc = EXIT_SYSTEM;

    if (parse_args(argc, argv, &o, admin, sizeof admin) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (sodium_init() < 0)
        return EXIT_SYSTEM;
    o.cmdline = join_argv(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    randombytes_buf(nonce, sizeof nonce);
    snprintf(run, sizeof run, "%02x%02x%02x", nonce[0], nonce[1], nonce[2]);
    snprintf(prefix[0], sizeof prefix[0], "bench-%s-hb", run);
    snprintf(prefix[1], sizeof prefix[1], "bench-%s-w", run);
    snprintf(prefix[2], sizeof prefix[2], "bench-%s-c", run);

    if (wants(&o, "heartbeats")) {
        fprintf(stderr, "creating %d workers...\n", o.hb_workers);
        hbw = principals_create(&o, prefix[0], "worker", o.hb_workers, err, sizeof err);
        if (!hbw)
            goto fail;
        if (bench_heartbeats(&o, hbw, o.hb_workers, o.hb_rate, &hb[0]) != 0) {
            snprintf(err, sizeof err, "heartbeats: %s", hb[0].note);
            goto fail;
        }
        print_hb(&hb[n_hb++]);
        if (!hb[0].bounded && hb[0].applied_rate > 100) {
            if (bench_heartbeats(&o, hbw, o.hb_workers, 0.9 * hb[0].applied_rate, &hb[1]) == 0)
                print_hb(&hb[n_hb++]);
        }
    }
    if (wants(&o, "jobs") || wants(&o, "latency") || wants(&o, "compare")) {
        fprintf(stderr, "creating %d workers and %d clients...\n", o.job_workers, o.clients);
        ws = principals_create(&o, prefix[1], "worker", o.job_workers, err, sizeof err);
        cs = ws ? principals_create(&o, prefix[2], "client", o.clients, err, sizeof err) : NULL;
        if (!cs)
            goto fail;
    }
    if (wants(&o, "jobs")) {
        if (bench_jobs(&o, ws, o.job_workers, cs, o.clients, prefix[1], prefix[2], o.job_rate,
                       &jobs) != 0) {
            snprintf(err, sizeof err, "jobs: %s", jobs.note);
            goto fail;
        }
        print_jobs("jobs", &jobs);
        have_jobs = 1;
    }
    if (wants(&o, "latency")) {
        double rate = o.latency_rate;
        if (rate <= 0)
            rate = have_jobs && jobs.completed_rate > 1 ? jobs.completed_rate / 2 : o.job_rate / 2;
        if (bench_jobs(&o, ws, o.job_workers, cs, o.clients, prefix[1], prefix[2], rate, &lat) !=
            0) {
            snprintf(err, sizeof err, "latency: %s", lat.note);
            goto fail;
        }
        print_jobs("latency", &lat);
        have_lat = 1;
    }
    if (wants(&o, "compare")) {
        if (bench_compare(&o, ws, o.job_workers, cs, o.clients, prefix[1], prefix[2], err,
                          sizeof err) != 0)
            goto fail;
        if (!have_jobs && !have_lat && !n_hb) {
            rc = 0;
            goto out;
        }
    }
    report_write(&o, hb, n_hb, have_jobs ? &jobs : NULL, have_lat ? &lat : NULL);
    if (*o.out)
        printf("report: %s\n", o.out);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "jobcoord-bench: %s\n", err);
out:
    free(hbw);
    free(ws);
    free(cs);
    free((char *)o.cmdline);
    return rc;
}
