-- bench/stat/batch.lua: the batch form: POST /api/v1/events with arrays of 100 ~220-byte
-- events (22 KB bodies). Requests/s x 100 = events/s.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  local items = {}
  for i = 1, 100 do
    n = n + 1
    items[i] = string.format(
      '{"type":"movie.card.click","props":{"source":"home","row":"%d","position":%d,' ..
      '"experiment":"b"},"anonymous_id":"bench-anon-%05d","session_id":"bench-session-%05d",' ..
      '"url":"/movies/%d","ts":"2026-11-29T12:00:00.000Z"}', n % 20, n % 40, n % 10000,
      n % 10000, n % 500)
  end
  return wrk.format(nil, "/api/v1/events", nil, "[" .. table.concat(items, ",") .. "]")
end
