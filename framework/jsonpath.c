/* jsonpath.c: dotted-path access into jansson objects (see jsonpath.h). Paths are short, so
 * each segment is copied into a stack buffer rather than allocating. */
#include "framework/jsonpath.h"

#include <string.h>

#define SEG_MAX 256

/* Copies the next segment of *p into seg; returns false when too long or empty. */
static bool next_seg(const char **p, char seg[SEG_MAX])
{
    const char *dot = strchr(*p, '.');
    size_t n = dot ? (size_t)(dot - *p) : strlen(*p);
    if (n == 0 || n >= SEG_MAX)
        return false;
    memcpy(seg, *p, n);
    seg[n] = '\0';
    *p = dot ? dot + 1 : *p + n;
    return true;
}

json_t *uf_json_get_path(json_t *root, const char *path)
{
    char seg[SEG_MAX];
    json_t *cur = root;
    const char *p = path;
    while (*p) {
        if (!json_is_object(cur) || !next_seg(&p, seg))
            return NULL;
        cur = json_object_get(cur, seg);
    }
    return cur;
}

bool uf_json_set_path(json_t *root, const char *path, json_t *value)
{
    char seg[SEG_MAX];
    json_t *cur = root;
    const char *p = path;
    for (;;) {
        if (!json_is_object(cur) || !next_seg(&p, seg)) {
            json_decref(value);
            return false;
        }
        if (!*p)
            return json_object_set_new(cur, seg, value) == 0;
        json_t *child = json_object_get(cur, seg);
        if (!child) {
            child = json_object();
            json_object_set_new(cur, seg, child);
        }
        cur = child;
    }
}

json_t *uf_json_take_path(json_t *root, const char *path)
{
    const char *dot = strrchr(path, '.');
    json_t *parent = root;
    const char *key = path;
    if (dot) {
        char head[SEG_MAX * 4];
        size_t n = (size_t)(dot - path);
        if (n >= sizeof head)
            return NULL;
        memcpy(head, path, n);
        head[n] = '\0';
        parent = uf_json_get_path(root, head);
        key = dot + 1;
    }
    json_t *v = json_object_get(parent, key);
    if (!v)
        return NULL;
    json_incref(v);
    json_object_del(parent, key);
    return v;
}
