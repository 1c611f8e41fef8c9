/*
 * log.c - leveled text or JSON-lines logging to stderr.
 *
 * A record is formatted into a stack buffer and written with one write(2),
 * so records from several threads never interleave. Long messages are cut at
 * JC_LOG_LINE_MAX rather than allocated.
 */
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define JC_LOG_LINE_MAX 4096

static jc_log_level min_level = JC_LOG_INFO;
static int json_format;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int jc_log_setup(const char *level, const char *format)
{
    int i, found = -1;
    for (i = 0; i < 4; i++)
        if (level && strcmp(level, level_names[i]) == 0)
            found = i;
    if (found < 0)
        return -1;
    if (format && strcmp(format, "json") == 0)
        json_format = 1;
    else if (!format || strcmp(format, "text") == 0)
        json_format = 0;
    else
        return -1;
    min_level = (jc_log_level)found;
    return 0;
}

int jc_log_enabled(jc_log_level level) { return level >= min_level; }

// json_escape appends s to out as JSON string content, never past end.
static size_t json_escape(char *out, size_t pos, size_t cap, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)ch;
        } else if (ch == '\n') {
            out[pos++] = '\\';
            out[pos++] = 'n';
        } else if (ch < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", ch);
        } else {
            out[pos++] = (char)ch;
        }
    }
    return pos;
}

void jc_log(jc_log_level level, const char *component, const char *fmt, ...)
{
    char msg[JC_LOG_LINE_MAX], line[JC_LOG_LINE_MAX + 256], ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    size_t n;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    if (json_format) {
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"",
                             ts, level_names[level]);
        n = json_escape(line, n, sizeof line - 4, component);
        n += (size_t)snprintf(line + n, sizeof line - n, "\",\"msg\":\"");
        n = json_escape(line, n, sizeof line - 4, msg);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"}\n");
    } else {
        int m = snprintf(line, sizeof line, "%s %-5s %s: %s\n", ts, level_names[level], component,
                         msg);
        n = m < 0 ? 0 : (size_t)m;
        if (n >= sizeof line) {
            n = sizeof line - 1;
            line[n - 1] = '\n';
        }
    }
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere left to report it */
    }
}

int jc_log_allow(jc_log_limit *l, int per_second, const char *component, const char *what)
{
    long now = (long)time(NULL);
    if (now != l->second) {
        if (l->suppressed)
            jc_log(JC_LOG_WARN, component, "%u more %s not logged in the last second", l->suppressed,
                   what);
        l->second = now;
        l->used = 0;
        l->suppressed = 0;
    }
    if (l->used >= per_second) {
        l->suppressed++;
        return 0;
    }
    l->used++;
    return 1;
}
