/* host_memory.c: see host_memory.h. Linux only: elsewhere the files are
 * missing and nothing is refused. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"
#include "core/host_memory.h"

/* cgroup v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages). */
#define V1_UNLIMITED (UINT64_C(1) << 62)

void soma_format_bytes(uint64_t bytes, char *buf, int size) {
    double v = (double)bytes;
    if (v >= 1024.0 * 1024 * 1024)
        snprintf(buf, (size_t)size, "%.1f GiB", v / (1024.0 * 1024 * 1024));
    else if (v >= 1024.0 * 1024)
        snprintf(buf, (size_t)size, "%.1f MiB", v / (1024.0 * 1024));
    else
        snprintf(buf, (size_t)size, "%llu bytes", (unsigned long long)bytes);
}

/* The first unsigned number in a file ("max" and the like: 0 with *ok 0). */
static uint64_t read_number(const char *path, int *ok) {
    *ok = 0;
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    unsigned long long v = 0;
    *ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    return v;
}

/* The value of "Key:   N kB" in a /proc file, in bytes; 0 with *ok 0 when absent. */
static uint64_t proc_kib(const char *path, const char *key, int *ok) {
    *ok = 0;
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0, len = strlen(key);
    unsigned long long v = 0;
    while (!*ok && getline(&line, &cap, f) > 0)
        if (strncmp(line, key, len) == 0 && line[len] == ':') *ok = sscanf(line + len + 1, "%llu", &v) == 1;
    free(line);
    fclose(f);
    return (uint64_t)v * 1024;
}

/* The value of "key N" in a cgroup's memory.stat; 0 when absent. */
static uint64_t stat_value(const char *file, const char *key) {
    FILE *f = fopen(file, "re");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0, len = strlen(key);
    unsigned long long v = 0;
    while (getline(&line, &cap, f) > 0)
        if (strncmp(line, key, len) == 0 && line[len] == ' ' && sscanf(line + len + 1, "%llu", &v) == 1) break;
    free(line);
    fclose(f);
    return v;
}

/* Whether the comma-separated list has the item. */
static int has_item(const char *list, const char *item) {
    size_t n = strlen(item);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, item, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == '\n')) return 1;
    return 0;
}

/* This process's cgroup in the v2 hierarchy ("0::/path") or the v1 memory
 * controller ("N:memory:/path"), allocated; NULL when there is none. */
static char *cgroup_path(int v2) {
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return NULL;
    char *line = NULL, *found = NULL;
    size_t cap = 0;
    while (!found && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = '\0';
        int match = v2 ? strcmp(line, "0") == 0 && c2 == c1 + 1 : has_item(c1 + 1, "memory");
        if (match) found = strdup(c2 + 1);
    }
    free(line);
    fclose(f);
    return found;
}

/* Where that cgroup's files are: the mount of the hierarchy (cgroup2, or
 * cgroup with the memory option) joined with the path below the mount's root. */
static char *cgroup_dir(int v2, size_t *mount_len) {
    char *path = cgroup_path(v2);
    FILE *f = path ? fopen("/proc/self/mountinfo", "re") : NULL;
    char *line = NULL, *dir = NULL;
    size_t cap = 0;
    while (f && !dir && getline(&line, &cap, f) > 0) {
        /* id parent dev root mountpoint options [tags] - fstype source superoptions */
        char *fields[5], *save = NULL, *dash = strstr(line, " - ");
        if (!dash) continue;
        *dash = '\0';
        char *tail = dash + 3, *fstype = strtok_r(tail, " ", &save), *source = strtok_r(NULL, " ", &save);
        char *super = strtok_r(NULL, " \n", &save);
        if (!fstype || !source) continue;
        int want = v2 ? strcmp(fstype, "cgroup2") == 0
                      : strcmp(fstype, "cgroup") == 0 && super && has_item(super, "memory");
        if (!want) continue;
        save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save)) fields[n++] = t;
        if (n < 5) continue;
        const char *root = fields[3], *mount = fields[4], *below = path;
        size_t root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (strncmp(path, root, root_len) != 0) continue; /* not below this mount's root */
        below += root_len;
        *mount_len = strlen(mount);
        dir = malloc(*mount_len + strlen(below) + 2);
        if (dir) sprintf(dir, "%s/%s", mount, below[0] == '/' ? below + 1 : below);
    }
    free(line);
    if (f) fclose(f);
    free(path);
    return dir;
}

/* The tightest cgroup limit of dir and the cgroups above it (down to the mount). */
static void cgroup_headroom(int v2, soma_host_memory *m) {
    size_t mount_len = 0;
    char *dir = cgroup_dir(v2, &mount_len);
    if (!dir) return;
    size_t len = strlen(dir);
    while (len > mount_len && dir[len - 1] == '/') dir[--len] = '\0';
    char *file = malloc(len + 32);
    while (file) {
        int ok_limit, ok_used;
        sprintf(file, "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
        uint64_t limit = read_number(file, &ok_limit);
        sprintf(file, "%s/%s", dir, v2 ? "memory.current" : "memory.usage_in_bytes");
        uint64_t used = read_number(file, &ok_used);
        /* the usage counts the page cache too; its inactive part is reclaimed before anyone is killed */
        sprintf(file, "%s/memory.stat", dir);
        uint64_t reclaimable = stat_value(file, v2 ? "inactive_file" : "total_inactive_file");
        used = reclaimable < used ? used - reclaimable : 0;
        if (ok_limit && ok_used && limit < V1_UNLIMITED) {
            uint64_t room = used < limit ? limit - used : 0;
            if (room < m->available) *m = (soma_host_memory){room, "the cgroup memory limit", limit, used};
        }
        char *slash = strrchr(dir, '/');
        if (len <= mount_len || !slash || (size_t)(slash - dir) < mount_len) break; /* the hierarchy's root */
        *slash = '\0'; /* the parent cgroup */
        len = (size_t)(slash - dir);
    }
    free(file);
    free(dir);
}

/* A resource limit less what the process already has of it. */
static void rlimit_headroom(int resource, const char *status_key, const char *name, soma_host_memory *m) {
    struct rlimit r;
    if (getrlimit(resource, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return;
    int ok;
    uint64_t used = proc_kib("/proc/self/status", status_key, &ok);
    if (!ok) return;
    uint64_t limit = (uint64_t)r.rlim_cur, room = used < limit ? limit - used : 0;
    if (room < m->available) *m = (soma_host_memory){room, name, limit, used};
}

void soma_host_memory_query(soma_host_memory *m) {
    *m = (soma_host_memory){UINT64_MAX, NULL, 0, 0};
    int ok_avail, ok_swap;
    uint64_t avail = proc_kib("/proc/meminfo", "MemAvailable", &ok_avail);
    uint64_t swap = proc_kib("/proc/meminfo", "SwapFree", &ok_swap);
    if (ok_avail) *m = (soma_host_memory){avail + (ok_swap ? swap : 0), "the memory available on the machine", 0, 0};
    cgroup_headroom(1, m);
    cgroup_headroom(0, m);
    rlimit_headroom(RLIMIT_AS, "VmSize", "the address-space limit set by ulimit -v", m);
    rlimit_headroom(RLIMIT_DATA, "VmData", "the data-segment limit set by ulimit -d", m);
}

soma_status soma_host_memory_check(const char *api, const char *what, uint64_t bytes) {
    soma_host_memory m;
    soma_host_memory_query(&m);
    if (bytes <= m.available) return SOMA_OK;
    char need[32], room[32], limit[32], used[32];
    soma_format_bytes(bytes, need, sizeof need);
    soma_format_bytes(m.available, room, sizeof room);
    soma_format_bytes(m.limit, limit, sizeof limit);
    soma_format_bytes(m.used, used, sizeof used);
    if (m.limit == 0)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s needs %s but the process can get %s (%s)", api, what, need,
                         room, m.source);
    return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s needs %s but the process can get %s (%s, %s, less %s in use)",
                     api, what, need, room, m.source, limit, used);
}
