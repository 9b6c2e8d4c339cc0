/* A safe reader for the subset of Python pickle protocols 0-4 used by the
 * pianoroll pickles: None/bools/ints/floats/strings/bytes, tuples, lists,
 * dicts and memo opcodes, plus numpy scalars and arrays rebuilt from their
 * raw bytes. It executes nothing: the only globals accepted are the numpy
 * reconstructors (and _codecs.encode, which Python 3 uses for bytes at
 * protocols 0-2), each interpreted by this file. Private to this plugin. */
#ifndef PIANOROLL_PICKLE_H
#define PIANOROLL_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

typedef enum pkl_type {
    PKL_NONE,
    PKL_BOOL,
    PKL_INT,
    PKL_FLOAT,
    PKL_BYTES, /* Python 2 str / Python 3 bytes */
    PKL_STR,   /* unicode, stored as UTF-8 */
    PKL_TUPLE,
    PKL_LIST,
    PKL_DICT,  /* items hold key, value, key, value, ... */
    PKL_GLOBAL,
    PKL_DTYPE,
    PKL_ARRAY
} pkl_type;

typedef enum pkl_global {
    PKL_G_SCALAR = 1,  /* numpy.core.multiarray.scalar */
    PKL_G_RECONSTRUCT, /* numpy.core.multiarray._reconstruct */
    PKL_G_NDARRAY,     /* numpy.ndarray */
    PKL_G_DTYPE,       /* numpy.dtype */
    PKL_G_ENCODE       /* _codecs.encode */
} pkl_global;

#define PKL_MAX_DIMS 8

typedef struct pkl_value pkl_value;
struct pkl_value {
    pkl_type type;
    int depth;   /* 0 for scalars, 1 + deepest item for containers */
    size_t offset; /* where in the file it was made (for messages) */
    union {
        int64_t i;      /* BOOL, INT */
        double f;       /* FLOAT */
        struct {
            char *data; /* NUL-terminated copy */
            size_t len;
        } s;            /* BYTES, STR */
        struct {
            pkl_value **items;
            size_t len, cap;
        } seq;          /* TUPLE, LIST, DICT (len counts slots: 2 per dict entry) */
        pkl_global g;   /* GLOBAL */
        struct {
            char kind;  /* 'i', 'u', 'f', 'b' */
            int size;   /* bytes per item */
            char order; /* '<', '>', '|' or '=' */
        } dt;           /* DTYPE */
        struct {
            int ndim;
            int64_t shape[PKL_MAX_DIMS];
            int64_t n;
            double *data; /* NULL until BUILD gives the state */
        } arr;          /* ARRAY */
    } u;
};

typedef struct pkl_doc pkl_doc;

/* Parses `len` bytes; `name` (the file) prefixes every error message along
 * with the byte offset. On success *root is owned by *doc. */
fivo_status pkl_load(const uint8_t *buf, size_t len, const char *name, pkl_doc **doc,
                     const pkl_value **root, fivo_error *err);
void pkl_free(pkl_doc *doc);

/* Dict lookup by string key (str or bytes); NULL when absent. */
const pkl_value *pkl_dict_get(const pkl_value *dict, const char *key);
/* "int", "list", ... for messages. */
const char *pkl_type_name(pkl_type t);

#endif
