/* viz/assets.h: the graph page's files, embedded into the binary at build time by
 * viz/embed.cmake (one C array per file of viz/assets/). */
#ifndef UF_VIZ_ASSETS_H
#define UF_VIZ_ASSETS_H

#include <stddef.h>

struct uf_asset {
    const char *name;          /* file name, e.g. "index.html" */
    const unsigned char *data; /* NUL-terminated for convenience; size excludes the NUL */
    size_t size;
};

extern const struct uf_asset uf_assets[]; /* terminated by a NULL name */

#endif
