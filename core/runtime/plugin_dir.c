/* Where this libfivo's bundled plugins are (see fivo_registry_builtin_dir in
 * fivo/registry.h). Found from the library's own location so an install tree
 * works wherever it is put (`cmake --install --prefix`, a moved /opt tree),
 * and an installed libfivo never picks up a build tree's plugins. */
#define _GNU_SOURCE
#include <fivo/internal/registry.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

static char builtin_dir[PATH_MAX];

/* dirname of `path` resolved through symlinks, into out (PATH_MAX). */
static int real_dirname(const char *path, char *out)
{
    char resolved[PATH_MAX];
    if (realpath(path, resolved) == NULL)
        return -1;
    char *slash = strrchr(resolved, '/');
    if (slash == NULL)
        return -1;
    if (slash == resolved)
        slash[1] = '\0';
    else
        *slash = '\0';
    memcpy(out, resolved, strlen(resolved) + 1);
    return 0;
}

static void find_builtin_dir(void)
{
    Dl_info info;
    char libdir[PATH_MAX];
    char build_libdir[PATH_MAX];
    if (dladdr((void *)&fivo_registry_builtin_dir, &info) == 0 || info.dli_fname == NULL ||
        real_dirname(info.dli_fname, libdir) != 0) {
        g_strlcpy(builtin_dir, FIVO_INSTALL_PLUGIN_DIR, sizeof builtin_dir);
        return;
    }
    /* realpath of the build tree's library folder; it may not exist any more. */
    if (realpath(FIVO_BUILD_LIB_DIR, build_libdir) != NULL && strcmp(build_libdir, libdir) == 0) {
        g_strlcpy(builtin_dir, FIVO_BUILD_PLUGIN_DIR, sizeof builtin_dir);
        return;
    }
    g_snprintf(builtin_dir, sizeof builtin_dir, "%s/%s", libdir, FIVO_PLUGIN_SUBDIR);
}

const char *fivo_registry_builtin_dir(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        find_builtin_dir();
        g_once_init_leave(&once, 1);
    }
    return builtin_dir;
}
