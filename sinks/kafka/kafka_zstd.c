/* kafka_zstd.c: zstd streams reused across the message sets librdkafka compresses.
 * librdkafka 2.0 creates and frees a stream per message set, and each new stream probes the CPU
 * and faults in a fresh workspace (about 9 % of the stat process). The two functions below,
 * defined in our executable, take precedence over libzstd's for librdkafka's calls: a freed
 * stream is kept, one per thread, handed out again by the next create with its parameters
 * reset, and freed when its thread exits. Nothing else of libzstd is touched. Why it is safe:
 * docs/architecture.md, "sinks/kafka". */
#define ZSTD_STATIC_LINKING_ONLY
#include <pthread.h>
#include <zstd.h>

#include "sinks/kafka/kafka_int.h"

static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static bool kept_ok;
/* The last stream this thread handed out: only that one is kept when freed. A stream made some
 * other way (ZSTD_initStaticCStream on the caller's memory, a custom allocator) is not ours to
 * keep or to give to someone else. */
static _Thread_local const ZSTD_CStream *made;

static void free_kept(void *cs)
{
    ZSTD_freeCCtx(cs);
}

static void kept_init(void)
{
    kept_ok = pthread_key_create(&kept_key, free_kept) == 0;
}

void uf_kafka_zstd_reuse(void)
{
    pthread_once(&kept_once, kept_init);
}

ZSTD_CStream *ZSTD_createCStream(void)
{
    uf_kafka_zstd_reuse();
    ZSTD_CStream *cs = kept_ok ? pthread_getspecific(kept_key) : NULL;
    if (cs) {
        pthread_setspecific(kept_key, NULL);
        ZSTD_CCtx_reset(cs, ZSTD_reset_session_and_parameters);
    } else {
        cs = ZSTD_createCCtx(); /* a CStream is a CCtx (zstd.h) */
    }
    made = cs;
    return cs;
}

size_t ZSTD_freeCStream(ZSTD_CStream *cs)
{
    if (!cs)
        return 0;
    uf_kafka_zstd_reuse(); /* kept_ok is read only after pthread_once set it */
    if (cs == made && kept_ok && !pthread_getspecific(kept_key) &&
        pthread_setspecific(kept_key, cs) == 0) {
        made = NULL;
        return 0;
    }
    if (cs == made)
        made = NULL;
    return ZSTD_freeCCtx(cs);
}
