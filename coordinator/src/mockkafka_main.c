/*
 * mockkafka_main.c - jobcoord-mock-kafka: a standalone embedded Kafka
 * cluster in its own process, for tests where Kafka must outlive the
 * coordinator (kill -9 of the daemon) and for trying workers against a
 * cluster the coordinator does not host. Runs until SIGTERM or SIGINT.
 *
 * Exit codes: 0 stopped by signal, 100 usage, 111 system error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobcoord/jobcoord.h"
#include "mockkafka.h"

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
            "  --partitions N         partitions per topic (default 4)\n"
            "  --brokers N            number of mock brokers (default 1)\n"
            "  --topic-prefix P       topic name prefix (default \"jobcoord.\")\n"
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
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *bootstrap_file = NULL, *prefix = "jobcoord.";
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
        case 'V': printf("jobcoord-mock-kafka %s\n", JC_VERSION_STR); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 100;
        }
    }
    if (optind != argc || partitions < 1 || partitions > 256 || brokers < 1 || brokers > 16) {
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
    printf("mock kafka at %s\n", jc_mockkafka_bootstraps(mk));
    fflush(stdout);
    while (!stop_requested)
        pause();
    jc_mockkafka_stop(mk);
    return 0;
}
