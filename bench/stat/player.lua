-- bench/stat/player.lua: single-event POSTs of ~250-byte player heartbeats to /api/v1/player,
-- spread over 10,000 sessions so the view detector holds realistic state.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"movie_id":"0192f0c1-aaaa-7bbb-8ccc-%012d","session_id":"bench-session-%05d",' ..
    '"anonymous_id":"bench-anon-%05d","event":"progress","position_s":%d.5,"duration_s":5400,' ..
    '"quality":"1080p","ts":"2026-11-29T12:00:00.000Z"}', n % 500, n % 10000, n % 10000, n % 5400)
  return wrk.format(nil, "/api/v1/player", nil, body)
end
