-- tests/support/ugc_mix.lua: a wrk script writing every kind of UGC change at once: likes,
-- dislikes and unlikes, comments and their deletion, comment votes (up, down, removed),
-- favorites added and removed, from random users (tokens from $UGC_MIX_DATA, a data.lua of
-- bench/ugc/gen_data.sh) on few movies, so that writes collide. Every 2xx reply's Event-Id is
-- appended to $UGC_MIX_ACKED.<thread>, one per line: the events a client was told are stored.
local data = dofile(os.getenv("UGC_MIX_DATA"))
local tokens, movies = data.tokens, data.movies
local acked_prefix = os.getenv("UGC_MIX_ACKED")
local threads, counter = {}, 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(os.time() * 1000 + id)
    acked = io.open(acked_prefix .. "." .. id, "w")
    acked:setvbuf("line")
    comments = {}
    ok, bad, failed = 0, 0, 0
end

local function path_movie() return "/api/v1/movies/" .. movies[math.random(#movies)] end

local function a_comment()
    if #comments == 0 then return nil end
    return comments[math.random(#comments)]
end

function request()
    local h = { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }
    local r = math.random(100)
    if r <= 20 then return wrk.format("POST", path_movie() .. "/like", h) end
    if r <= 30 then return wrk.format("POST", path_movie() .. "/dislike", h) end
    if r <= 40 then return wrk.format("DELETE", path_movie() .. "/reaction", h) end
    if r <= 55 then return wrk.format("PUT", "/api/v1/favorites/" .. movies[math.random(#movies)], h) end
    if r <= 62 then return wrk.format("DELETE", "/api/v1/favorites/" .. movies[math.random(#movies)], h) end
    local c = a_comment()
    if r <= 75 or not c then
        h["Content-Type"] = "application/json"
        return wrk.format("POST", path_movie() .. "/comments", h, '{"text":"outbox test"}')
    end
    if r <= 80 then return wrk.format("DELETE", "/api/v1/comments/" .. c, h) end
    if r <= 95 then
        h["Content-Type"] = "application/json"
        local v = math.random(2) == 1 and "up" or "down"
        return wrk.format("PUT", "/api/v1/comments/" .. c .. "/vote", h, '{"value":"' .. v .. '"}')
    end
    return wrk.format("DELETE", "/api/v1/comments/" .. c .. "/vote", h)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
        local id = headers["Event-Id"] or headers["event-id"]
        -- one write and a flush per id: wrk never closes the file, so a buffered tail is lost
        if id then acked:write(id .. "\n"); acked:flush() end
        local cid = status == 201 and body:match('^{"id":"([0-9a-f-]+)"')
        if cid and #comments < 5000 then table.insert(comments, cid) end
    elseif status >= 500 then
        failed = failed + 1
    else
        bad = bad + 1 -- 403/404/409 of colliding writes: expected
    end
end

function done(summary, latency, requests)
    local o, b, f = 0, 0, 0
    for _, t in ipairs(threads) do
        o = o + t:get("ok")
        b = b + t:get("bad")
        f = f + t:get("failed")
    end
    io.write(string.format("ugc_mix: 2xx %d 4xx %d 5xx %d\n", o, b, f))
end
