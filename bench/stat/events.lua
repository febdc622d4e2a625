-- bench/stat/events.lua: single-event POSTs of ~250-byte generic events to /api/v1/events.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"type":"movie.card.click","props":{"source":"home","row":"%d","position":%d,' ..
    '"experiment":"b"},"anonymous_id":"bench-anon-%05d","session_id":"bench-session-%05d",' ..
    '"url":"/movies/%d","ts":"2026-11-29T12:00:00.000Z"}', n % 20, n % 40, n % 10000,
    n % 10000, n % 500)
  return wrk.format(nil, "/api/v1/events", nil, body)
end
