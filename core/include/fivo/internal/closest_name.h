/* "Did you mean": the candidate nearest a mistyped name, for the error
 * messages of the registry and the host (not part of the plugin SDK). */
#ifndef FIVO_INTERNAL_CLOSEST_NAME_H
#define FIVO_INTERNAL_CLOSEST_NAME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Levenshtein distance (insert, delete, substitute: 1 each); (size_t)-1
 * when out of memory. */
size_t fivo_edit_distance(const char *a, const char *b);
/* The candidate nearest to `word` by edit distance (NULL when n == 0). */
const char *fivo_closest_name(const char *word, const char *const *candidates, size_t n);

#ifdef __cplusplus
}
#endif
#endif
