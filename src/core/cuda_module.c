/* cuda_module.c: the CUDA backend of a shared build, loaded from the module
 * libsoma-cuda.so the first time a CUDA device is asked for (cuda_module.h).
 *
 * Where the module is looked for, in order, the first one that exists being
 * loaded:
 *   1. $SOMA_CUDA_MODULE, when set: that path and no other;
 *   2. beside the file holding this code: libsoma.so's directory, or the
 *      executable's when the core is linked in statically (the build tree);
 *   3. that directory's SOMA_CUDA_MODULE_RELATIVE (../lib beside a bin/: an
 *      installed soma CLI finds the installed module, wherever the prefix is);
 *   4. SOMA_CUDA_MODULE_LIBDIR, the configured install prefix's lib directory;
 *   5. the dynamic linker's search by name (LD_LIBRARY_PATH, the caller's
 *      RUNPATH, which in a build tree holds the build directory, the cache).
 * When none loads, the CUDA backend is the absent one and its device_count
 * gives the reason: the places tried, or the loader's error for a module that
 * is there but does not load (a CUDA library it needs is missing), or a
 * module built for another soma. The module stays loaded for the process. */
#define _GNU_SOURCE /* dladdr1, struct link_map */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/cuda_module.h"
#include "core/error.h"

#ifndef SOMA_CUDA_MODULE_RELATIVE
#define SOMA_CUDA_MODULE_RELATIVE "../lib"
#endif

const int soma_cuda_built = 1;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const soma_backend *backend; /* the module's table once loaded, else NULL */
static char reason[1536];            /* why the module is not used */

static const soma_cuda_host host = {.vfail = soma_vfail, .ops = soma_op_table};

/* The directory of the file this code was loaded from (libsoma.so, or the
 * executable holding the static library), without the slash; "" if unknown. */
static void own_directory(char *dir, size_t size) {
    Dl_info info;
    struct link_map *map = NULL;
    dir[0] = '\0';
    if (!dladdr1(&load_once, &info, (void **)&map, RTLD_DL_LINKMAP) || !map) return;
    if (map->l_name && map->l_name[0]) {
        snprintf(dir, size, "%s", map->l_name);
    } else { /* the main program: its link map has no name (dli_fname is argv[0]) */
        ssize_t n = readlink("/proc/self/exe", dir, size - 1);
        dir[n > 0 ? n : 0] = '\0';
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else dir[0] = '\0';
}

/* Loads the module at path (a file that exists, or a bare name for the
 * dynamic linker) and checks its ABI; on failure leaves the reason. */
static const soma_backend *load(const char *path) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(reason, sizeof reason, "the CUDA module %s does not load: %s", path, dlerror());
        return NULL;
    }
    soma_cuda_module_abi_fn abi = (soma_cuda_module_abi_fn)(uintptr_t)dlsym(lib, SOMA_CUDA_MODULE_ABI_SYMBOL);
    soma_cuda_module_entry_fn entry =
        (soma_cuda_module_entry_fn)(uintptr_t)dlsym(lib, SOMA_CUDA_MODULE_ENTRY_SYMBOL);
    char ours[160];
    soma_cuda_module_abi_text(ours, sizeof ours);
    const soma_backend *table = NULL;
    if (!abi || !entry)
        snprintf(reason, sizeof reason, "%s is not a soma CUDA module (it has no %s)", path,
                 abi ? SOMA_CUDA_MODULE_ENTRY_SYMBOL : SOMA_CUDA_MODULE_ABI_SYMBOL);
    else if (strcmp(abi(), ours) != 0 || !(table = entry(ours, &host)))
        snprintf(reason, sizeof reason,
                 "the CUDA module %s belongs to another soma: it was built for [%s], this libsoma is [%s]",
                 path, abi(), ours);
    if (!table) dlclose(lib);
    return table;
}

/* Finds and loads the module; the backend's table, or NULL with the reason. */
static const soma_backend *find_module(void) {
    const char *env = getenv(SOMA_CUDA_MODULE_ENV);
    if (env && env[0]) {
        if (access(env, F_OK) == 0) return load(env);
        snprintf(reason, sizeof reason, "the CUDA module %s=%s does not exist", SOMA_CUDA_MODULE_ENV, env);
        return NULL;
    }
    char dir[1024], paths[3][1200];
    own_directory(dir, sizeof dir);
    int n = 0;
    if (dir[0]) {
        snprintf(paths[n++], sizeof paths[0], "%s/%s", dir, SOMA_CUDA_MODULE_FILE);
        snprintf(paths[n++], sizeof paths[0], "%s/%s/%s", dir, SOMA_CUDA_MODULE_RELATIVE, SOMA_CUDA_MODULE_FILE);
    }
#ifdef SOMA_CUDA_MODULE_LIBDIR
    snprintf(paths[n++], sizeof paths[0], "%s/%s", SOMA_CUDA_MODULE_LIBDIR, SOMA_CUDA_MODULE_FILE);
#endif
    for (int i = 0; i < n; i++)
        if (access(paths[i], F_OK) == 0) return load(paths[i]);
    const soma_backend *table = load(SOMA_CUDA_MODULE_FILE);
    /* the dynamic linker's error names the module when it found none; any
     * other one (a library the module needs) stays the reason */
    if (!table && strstr(reason, ": " SOMA_CUDA_MODULE_FILE ": cannot open shared object file")) {
        int len = snprintf(reason, sizeof reason, "the CUDA module %s was not found (tried ", SOMA_CUDA_MODULE_FILE);
        for (int i = 0; i < n && len > 0 && (size_t)len < sizeof reason; i++)
            len += snprintf(reason + len, sizeof reason - (size_t)len, "%s, ", paths[i]);
        if (len > 0 && (size_t)len < sizeof reason)
            snprintf(reason + len, sizeof reason - (size_t)len,
                     "and the library search path; %s=PATH names it)", SOMA_CUDA_MODULE_ENV);
    }
    return table;
}

static const soma_backend *chosen; /* the module's table, or the absent one saying why */

static void load_module(void) {
    const soma_backend *table = find_module();
    chosen = table ? table : soma_cuda_absent_backend(reason);
    __atomic_store_n(&backend, table, __ATOMIC_RELEASE);
}

const soma_backend *soma_cuda_backend_get(int load_it) {
    if (!load_it) /* the module's table if it is loaded: asking must not load the CUDA libraries */
        return __atomic_load_n(&backend, __ATOMIC_ACQUIRE);
    pthread_once(&load_once, load_module);
    return chosen;
}
