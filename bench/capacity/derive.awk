# bench/capacity/derive.awk: the formulas of docs/capacity.md over the `name=value` figures
# that bench/capacity/measure.sh measured and chose (awk -F= -f derive.awk FIGURES). Prints
# each result for the spec (x1) and for choice.scale times its rates and users (x100), as
# `name = value` lines. Rates are per second, volumes per day; bytes are on disk, compressed.
function g(k) { if (!(k in f)) { missing[k] = 1; return 0 } return f[k] + 0 }
function out(k, v, fmt) { printf "%-44s = " (fmt ? fmt : "%.0f") "\n", k, v }
function ceil(x) { return x == int(x) ? x : int(x) + 1 }
function max(a, b) { return a > b ? a : b }
function min(a, b) { return a < b ? a : b }
function nines(a, n) { return 1 - (1 - a) ^ n }

# The shares of one API's routes in the workload file (stat: player, views, events).
function shares(api,    sum, k) {
    for (k in f) if (index(k, "model." api ".") == 1) sum += f[k]
    return sum
}

# The per-scale figures the sections below share (globals: awk has no structs): the rates,
# the shares, and the events per day by type. Each API takes the spec's whole rate.
function volumes(s, tag,    k) {
    mean = g("spec.mean_rps") * s; peak = g("spec.peak_rps") * s
    stat_sum = shares("stat"); ugc_sum = shares("ugc")
    sp = g("model.stat.player") / stat_sum; sv = g("model.stat.views") / stat_sum
    se = g("model.stat.events") / stat_sum
    w = g("model.ugc.like") + g("model.ugc.dislike") + g("model.ugc.reaction_delete")
    w += g("model.ugc.favorite_put") + g("model.ugc.favorite_delete")
    w = (w + g("model.ugc.comment_create") + g("model.ugc.comment_vote_put")) / ugc_sum
    mvp = g("stat.rows.movie.view") / g("stat.rows.player")
    epw = g("ugc.events_per_write")
    req = mean * 86400
    player = req * sp; pv = req * sv; gen = req * se; mview = player * mvp; ugc = req * w * epw
    out(tag ".day.requests_per_api", req)
    out(tag ".day.events.player", player); out(tag ".day.events.page_view", pv)
    out(tag ".day.events.generic", gen); out(tag ".day.events.movie_view", mview)
    out(tag ".day.events.ugc", ugc)
    for (k in f) if (index(k, "model.ugc.") == 1 && k ~ /like|dislike|_put|_delete|create/)
        out(tag ".day.ugc_writes." substr(k, 11), req * f[k] / ugc_sum)
    out(tag ".day.events.total", player + pv + gen + mview + ugc)
}

# Kafka and ClickHouse bytes: Kafka's per event at the spec's mean rate (x1) or its peak rate
# (scaled), kept a retention on every copy; ClickHouse's rows per day times bytes per row, a
# year on every replica.
function storage(s, tag,    vbpe, ebpe, kday, chday) {
    vbpe = g("stat." (s == 1 ? "mean" : "peak") ".views_kafka_bytes_per_event")
    ebpe = g("stat." (s == 1 ? "mean" : "peak") ".events_kafka_bytes_per_event")
    kday = (player + pv + mview) * vbpe + gen * ebpe + ugc * g("ugc.kafka_bytes_per_event")
    out(tag ".kafka.bytes_per_day", kday)
    out(tag ".kafka.disk_bytes_retained",
        kday * g("choice.kafka_retention_days") * g("choice.kafka_replication"))
    chday = (player + pv + mview) * g("ch.views.bytes_per_row")
    chday += mview * g("ch.movie_views.bytes_per_row") + gen * g("ch.events.bytes_per_row")
    chday += ugc * g("ch.ugc_events.bytes_per_row")
    out(tag ".clickhouse.bytes_per_day", chday)
    out(tag ".clickhouse.bytes_per_year_all_replicas",
        chday * g("choice.ch_retention_days") * g("choice.ch_replicas"))
}

# PostgreSQL: the measured tables at this many users, and what a day of writes adds at most.
function postgres(s, tag,    k, pgnow, pgauth, opens, pggrow) {
    for (k in f) if (k ~ /^pg\..*\.total_bytes$/)
        (k ~ /^pg\.auth_/ ? pgauth += f[k] : pgnow += f[k])
    out(tag ".pg.ugc_tables_bytes", pgnow * s); out(tag ".pg.auth_tables_bytes", pgauth * s)
    opens = player * g("stat.rows.player_open") / g("stat.rows.player")
    opens *= g("model.population.registered")
    pggrow = (g("model.ugc.like") + g("model.ugc.dislike")) * g("pg.reactions.bytes_per_row")
    pggrow += g("model.ugc.favorite_put") * g("pg.favorites.bytes_per_row")
    pggrow += g("model.ugc.comment_create") * g("pg.comments.bytes_per_row")
    pggrow += g("model.ugc.comment_vote_put") * g("pg.comment_votes.bytes_per_row")
    pggrow = pggrow * epw * req / ugc_sum + opens * g("pg.watch_progress.bytes_per_row")
    out(tag ".pg.growth_bytes_per_day_at_most", pggrow)
    out(tag ".pg.bytes_after_a_year_all_replicas",
        ((pgnow + pgauth) * s + 365 * pggrow) * g("choice.pg_replicas"))
}

# Cores at the peak per tier: events/s x CPU-s per event (measured at the spec's peak), into
# c[tier]; the events/s of the two topics at the peak into vpk and epk.
function tier_cores(c) {
    vpk = peak * (sp + sv + sp * mvp); epk = peak * (se + w * epw)
    c["stat_api"] = peak * g("stat.peak.api_cpu_s_per_100k_requests")
    c["ugc_api"] = peak * g("ugc.api_cpu_s_per_100k_requests")
    c["postgres"] = peak * g("ugc.postgres_cpu_s_per_100k_requests")
    c["postgres"] += peak * g("stat.peak.postgres_cpu_s_per_100k_requests")
    c["outbox_relay"] = peak * w * epw * g("ugc.relay_cpu_s_per_100k_events")
    c["etl_events"] = peak * se * g("stat.peak.etl_events_cpu_s_per_100k_events")
    c["etl_events"] += peak * w * epw * g("ugc.etl_cpu_s_per_100k_events")
    c["etl_views"] = vpk * g("stat.peak.etl_views_cpu_s_per_100k_events")
    c["kafka"] = (vpk + peak * se) * g("stat.peak.kafka_cpu_s_per_100k_events")
    c["kafka"] += peak * w * epw * g("ugc.kafka_cpu_s_per_100k_events")
    c["clickhouse"] = (vpk + peak * se) * g("stat.peak.clickhouse_cpu_s_per_100k_events")
    c["clickhouse"] += peak * w * epw * g("ugc.clickhouse_cpu_s_per_100k_events")
}

# Per tier: cores, provisioned at choice.cpu_ceiling, boxes of 2 cores with their spares (into
# b[tier]); then the partitions: the peak over one partition's measured rate with headroom,
# and at least one per consumer (ETL) box.
function machines(tag,    c, b, least, tier, cores, prov, need, boxes, pp) {
    tier_cores(c)
    least["kafka"] = g("choice.kafka_replication"); least["clickhouse"] = g("choice.ch_replicas")
    least["postgres"] = g("choice.pg_replicas")
    for (tier in c) {
        cores = c[tier] / 1e5
        prov = cores / g("choice.cpu_ceiling")
        need = ceil(prov / 2)
        boxes = replicas(need, tier in least ? least[tier] : 2)
        out(tag ".cores_at_peak." tier, cores, "%.3f")
        out(tag ".cores_provisioned." tier, prov, "%.3f")
        out(tag ".boxes_2core_for_the_load." tier, need)
        out(tag ".boxes_2core." tier, boxes)
        out(tag ".availability." tier, up_to(boxes, boxes - need), "%.6f")
        b[tier] = boxes
    }
    pp = min(g("part.produce_events_per_s"), g("part.consume_rows_per_s"))
    out(tag ".kafka.peak_events_per_s.views", vpk); out(tag ".kafka.peak_events_per_s.events", epk)
    out(tag ".kafka.partitions.views",
        max(b["etl_views"], ceil(vpk * g("choice.partition_headroom") / pp)))
    out(tag ".kafka.partitions.events",
        max(b["etl_events"], ceil(epk * g("choice.partition_headroom") / pp)))
}

function derive(s, tag) {
    volumes(s, tag)
    storage(s, tag)
    postgres(s, tag)
    machines(tag)
}

# up_to(n, k): the chance that at most k of n boxes are down at once, each up with
# choice.instance_availability, independently (the binomial sum; k up to 1,000, so that a
# missing figure, which makes k not a number, still ends the loop).
function up_to(n, k,    q, p, t, i) {
    q = 1 - g("choice.instance_availability")
    t = (1 - q) ^ n; p = t
    for (i = 1; i <= k && i <= 1000; i++) { t *= (n - i + 1) / i * q / (1 - q); p += t }
    return p
}

# replicas(need, least): boxes for a tier whose load needs `need`: enough spares that the
# load still fits with choice.tier_availability, and at least `least`. A missing figure makes
# `need` not a number (nan, inf): that is returned as it is.
function replicas(need, least,    k) {
    if ((need "") ~ /nan|inf/) return need
    for (k = 0; k < 1000 && up_to(need + k, k) < g("choice.tier_availability"); k++) ;
    return max(least, need + k)
}

{ f[$1] = $2 }
END {
    a = g("choice.instance_availability")
    out("availability.one_instance", a, "%.4f")
    out("availability.spec_downtime_min_per_year", (1 - 0.999) * 525600, "%.1f")
    out("availability.one_instance_downtime_min_per_year", (1 - a) * 525600, "%.1f")
    out("availability.tier_target", g("choice.tier_availability"), "%.4f")
    out("availability.ugc_path_api_x_pg_at_target", g("choice.tier_availability") ^ 2, "%.6f")
    out("availability.two_replicas", nines(a, 2), "%.6f")
    derive(1, "x1")
    derive(g("choice.scale"), "x" g("choice.scale"))
    for (k in missing) printf "missing figure: %s\n", k
}
