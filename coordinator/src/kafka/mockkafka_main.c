/*
 * mockkafka_main.c - jobcoord-mock-kafka: a standalone embedded Kafka
 * cluster in its own process, for tests where Kafka must outlive the
 * coordinator (kill -9 of the daemon) and for trying workers against a
 * cluster the coordinator does not host. Runs until SIGTERM or SIGINT.
 *
 * Fault injection for tests: with --control-file F, the file is read and
 * removed whenever it appears; each line "produce-errors N ERROR_NAME" makes
 * the next N Produce requests fail with that Kafka error (rd_kafka_err2name
 * names, e.g. TOPIC_AUTHORIZATION_FAILED), whoever sends them.
 *
 * Exit codes: 0 stopped by signal, 100 usage, 111 system error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "jobcoord/jobcoord.h"
#include "kafka/mockkafka.h"

/* The Kafka protocol's ApiKey of Produce requests. */
#define KAFKA_API_PRODUCE 0

// err_by_name maps a Kafka error name to its code; -1 if unknown.
static int err_by_name(const char *name)
{
    for (int code = 1; code < 200; code++)
        if (strcmp(rd_kafka_err2name((rd_kafka_resp_err_t)code), name) == 0)
            return code;
    return -1;
}

// apply_control reads and removes the control file, applying its lines.
static void apply_control(jc_mockkafka *mk, const char *path)
{
    char line[256];
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char what[64], name[128];
        int n, code;
        if (sscanf(line, "%63s %d %127s", what, &n, name) != 3 ||
            strcmp(what, "produce-errors") != 0 || n < 1 || n > 1000 ||
            (code = err_by_name(name)) < 0) {
            fprintf(stderr, "jobcoord-mock-kafka: ignored control line: %s", line);
            continue;
        }
        for (int i = 0; i < n; i++)
            rd_kafka_mock_push_request_errors(jc_mockkafka_cluster(mk), KAFKA_API_PRODUCE, 1,
                                              (rd_kafka_resp_err_t)code);
        fprintf(stderr, "jobcoord-mock-kafka: next %d Produce requests fail with %s\n", n, name);
    }
    fclose(f);
    unlink(path);
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jobcoord-mock-kafka [options]\n"
            "Runs librdkafka's mock Kafka cluster on loopback until SIGTERM/SIGINT.\n\n"
            "  --bootstrap-file FILE  write the bootstrap address here (default: print only)\n"
            "  --partitions N         partitions per topic, 1-1024 (default 4)\n"
            "  --brokers N            number of mock brokers (default 1)\n"
            "  --topic-prefix P       topic name prefix (default \"jobcoord.\")\n"
            "  --control-file F       fault injection: see the top of mockkafka_main.c\n"
            "  --version              print the version and exit\n"
            "  --help                 this text\n\n"
            "Exit codes: 0 stopped by signal, 100 usage error, 111 system error.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"bootstrap-file", required_argument, NULL, 'b'},
                                         {"partitions", required_argument, NULL, 'p'},
                                         {"brokers", required_argument, NULL, 'n'},
                                         {"topic-prefix", required_argument, NULL, 't'},
                                         {"control-file", required_argument, NULL, 'C'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *bootstrap_file = NULL, *prefix = "jobcoord.", *control = NULL;
    int partitions = 4, brokers = 1, opt;
    char errstr[512];
    jc_mockkafka *mk;
    struct sigaction sa;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': bootstrap_file = optarg; break;
        case 'p': partitions = atoi(optarg); break;
        case 'n': brokers = atoi(optarg); break;
        case 't': prefix = optarg; break;
        case 'C': control = optarg; break;
        case 'V': printf("jobcoord-mock-kafka %s\n", JC_VERSION_STR); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 100;
        }
    }
    if (optind != argc || partitions < 1 || partitions > 1024 || brokers < 1 || brokers > 16) {
        usage(stderr);
        return 100;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mk = jc_mockkafka_start(brokers, partitions, prefix, bootstrap_file, errstr, sizeof errstr);
    if (!mk) {
        fprintf(stderr, "jobcoord-mock-kafka: %s\n", errstr);
        return 111;
    }
    printf("mock kafka at %s, cluster id %s\n", jc_mockkafka_bootstraps(mk), jc_mockkafka_cluster_id(mk));
    fflush(stdout);
    fprintf(stderr, "jobcoord-mock-kafka: a new, empty cluster. It is a development default, not a"
                    " durable broker: it keeps about 5 MiB per partition (older records are"
                    " dropped, read or not), listens on loopback only, has no authentication,"
                    " and its records die with this process.\n");
    while (!stop_requested) {
        if (control)
            apply_control(mk, control);
        usleep(100000);
    }
    jc_mockkafka_stop(mk);
    return 0;
}
