/* kafka_zstd.c: zstd streams reused across the message sets librdkafka compresses.
 * librdkafka 2.0 creates and frees a zstd stream for every message set it compresses
 * (rd_kafka_zstd_compress: ZSTD_createCStream, ZSTD_initCStream, compress, ZSTD_freeCStream).
 * A new stream probes the CPU's features (cpuid, an exit to the hypervisor on a virtual
 * machine) and gets a fresh workspace whose pages fault in when first touched; with the
 * stat pipeline's small, frequent message sets that was about 9 % of the process. The two
 * functions below are defined in our executable, so the dynamic linker binds librdkafka's calls
 * to them ahead of libzstd's: a freed stream is kept, one per thread (librdkafka compresses on
 * its broker threads), and handed out again by the next create. Reuse is what zstd's API
 * intends: ZSTD_initCStream starts a new frame on any stream, and the parameters are reset here
 * so a reused stream starts as a new one would. Only the stream made last on the thread is
 * kept (librdkafka makes one at a time); a thread's kept stream is freed when it exits.
 * Nothing else of libzstd is touched (the ClickHouse sink uses its own CCtx). */
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
