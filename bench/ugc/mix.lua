-- bench/ugc/mix.lua: wrk script for the UGC API: 70% reads, 30% writes, random users (JWTs
-- from data.lua, see gen_data.sh) and movies. Reads: reaction counts 30%, comments page 20%,
-- own reaction 10%, own favorites page 10%. Writes: like 10%, dislike 5%, favorite 10%,
-- comment 5%. Prints the share of non-2xx answers at the end.
local data = dofile(os.getenv("UGC_BENCH_DATA") or "data.lua")
local tokens, movies = data.tokens, data.movies
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
    errors = 0
    total = 0
end

function request()
    local h = { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }
    local m = "/api/v1/movies/" .. movies[math.random(#movies)]
    local r = math.random(100)
    if r <= 30 then return wrk.format("GET", m .. "/reactions", h) end
    if r <= 50 then return wrk.format("GET", m .. "/comments?limit=20", h) end
    if r <= 60 then return wrk.format("GET", m .. "/reaction", h) end
    if r <= 70 then return wrk.format("GET", "/api/v1/favorites?limit=20", h) end
    if r <= 80 then return wrk.format("POST", m .. "/like", h) end
    if r <= 85 then return wrk.format("POST", m .. "/dislike", h) end
    if r <= 95 then
        return wrk.format("PUT", "/api/v1/favorites/" .. movies[math.random(#movies)], h)
    end
    h["Content-Type"] = "application/json"
    return wrk.format("POST", m .. "/comments", h, '{"text":"wrk was here"}')
end

function response(status, headers, body)
    total = total + 1
    if status >= 300 then errors = errors + 1 end
end

function done(summary, latency, requests)
    local e, t = 0, 0
    for _, thread in ipairs(threads) do
        e = e + thread:get("errors")
        t = t + thread:get("total")
    end
    io.write(string.format("non-2xx: %d of %d\n", e, t))
end
