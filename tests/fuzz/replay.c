/*
 * replay.c - runs every file of a fuzz corpus through a fuzz target's
 * entry point, compiled without libFuzzer, so that ctest replays the seeds
 * (and any crash reproducer added to a corpus) on every run, with whatever
 * sanitizers the build has. A target aborts on a broken property; the
 * replay fails, too, when a corpus directory holds no file (a corpus that
 * went missing would otherwise pass in silence).
 *   replay_<target> DIR_OR_FILE...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* replay_file runs one file through the target: 0, or -1 if unreadable. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    int rc = -1;

    if (!f) {
        perror(path);
        return -1;
    }
    n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(n ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            /* an exact-size copy, as libFuzzer gives: ASan sees overreads */
            LLVMFuzzerTestOneInput(buf, (size_t)n);
            rc = 0;
        }
    }
    if (rc < 0)
        fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    int files = 0, failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *e;
        int in_dir = 0;

        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            failed++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += replay_file(argv[i]) < 0;
            files++;
            continue;
        }
        d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            failed++;
            continue;
        }
        for (;;) {
            char path[4096];
            e = readdir(d);
            if (!e)
                break;
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                continue;
            failed += replay_file(path) < 0;
            files++;
            in_dir++;
        }
        closedir(d);
        if (in_dir == 0) {
            fprintf(stderr, "%s: no corpus file\n", argv[i]);
            failed++;
        }
    }
    printf("%s: %d corpus files replayed, %d unreadable or missing\n", argv[0], files, failed);
    return failed ? 1 : 0;
}
