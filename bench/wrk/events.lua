-- wrk script for the event benchmarks (bench/wrk_load.py runs it; see there for the arguments).
--
--   wrk -t C -c C -d 20s --timeout 30s -s bench/wrk/events.lua http://127.0.0.1:5099 \
--       -- single|batch API_KEY METRIC PLAYERS ACTION_FRACTION NONCE MAX_RESPONSES BATCH_SIZE SEED
--
-- Every request is built here: a random player (bench-00000 ...), a unique idempotency key
-- (NONCE-thread-counter[-index]), ACTION_FRACTION of the events sent as the energy action "lesson" with a
-- difficulty. "single" POSTs /api/v1/metrics/METRIC/event, "batch" POSTs /api/v1/events with BATCH_SIZE
-- events. Run with as many threads as connections: each thread then has exactly one request in flight,
-- so response time minus request time (LuaJIT ffi clock) is each request's raw latency (wrk's own
-- histogram is "corrected" for closed-loop pacing, which adds synthetic samples). Each thread stops
-- after MAX_RESPONSES responses (0 = no cap; the duration still bounds the run). done() prints one line
-- "WRK_JSON {...}" with status counts and latency percentiles.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_s()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- main state: the threads, for done()
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

-- thread state (globals, read by done() through thread:get)
received = 0
statuses = {}
latencies = {}
t_first = 0
t_last = 0

local mode, path, players, action_fraction, nonce, max_responses, batch_size, metric
local sent = 0
local t_sent = nil
local difficulties = { "easy", "medium", "medium", "hard" }
local values = { 1, 1, 2 }

function init(args)
  mode = args[1]
  wrk.headers["X-API-Key"] = args[2]
  wrk.headers["Content-Type"] = "application/json"
  metric = args[3]
  players = tonumber(args[4])
  action_fraction = tonumber(args[5])
  nonce = args[6]
  max_responses = tonumber(args[7])
  batch_size = tonumber(args[8])
  math.randomseed(tonumber(args[9]) * 1000 + tid)
  for _ = 1, 10 do math.random() end -- the first draws after seeding are poorly spread
  if mode == "batch" then
    path = "/api/v1/events"
  else
    path = "/api/v1/metrics/" .. metric .. "/event"
  end
end

local function event_json(idem, with_metric)
  local user = string.format("bench-%05d", math.random(0, players - 1))
  local head = with_metric and ('{"metric":"' .. metric .. '",') or "{"
  if math.random() < action_fraction then
    return string.format('%s"user":{"id":"%s"},"value":1,"idempotency_key":"%s","action":"lesson","difficulty":"%s"}',
      head, user, idem, difficulties[math.random(1, 4)])
  end
  return string.format('%s"user":{"id":"%s"},"value":%d,"idempotency_key":"%s"}', head, user,
    values[math.random(1, 3)], idem)
end

function request()
  sent = sent + 1
  local idem = nonce .. "-" .. tid .. "-" .. sent
  local body
  if mode == "batch" then
    local parts = {}
    for j = 1, batch_size do
      parts[j] = event_json(idem .. "-" .. j, true)
    end
    body = '{"events":[' .. table.concat(parts, ",") .. "]}"
  else
    body = event_json(idem, false)
  end
  t_sent = now_s()
  if t_first == 0 then t_first = t_sent end
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  local t = now_s()
  received = received + 1
  statuses[status] = (statuses[status] or 0) + 1
  if t_sent then latencies[received] = t - t_sent end
  t_last = t
  if max_responses > 0 and received >= max_responses then
    wrk.thread:stop()
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return -1 end
  local k = math.floor(p / 100 * (#sorted - 1) + 0.5) + 1
  if k > #sorted then k = #sorted end
  return sorted[k]
end

function done(summary, latency, requests)
  local all, agg, total, first, last = {}, {}, 0, nil, 0
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      agg[code] = (agg[code] or 0) + n
    end
    total = total + thread:get("received")
    for _, v in pairs(thread:get("latencies")) do
      all[#all + 1] = v
    end
    local tf, tl = thread:get("t_first"), thread:get("t_last")
    if tf > 0 and (first == nil or tf < first) then first = tf end
    if tl > last then last = tl end
  end
  table.sort(all)
  local sum = 0
  for _, v in ipairs(all) do sum = sum + v end
  local codes = {}
  for code, n in pairs(agg) do codes[#codes + 1] = string.format('"%d":%d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"received":%d,"span_s":%.6f,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s},'
    .. '"latency_ms":{"n":%d,"mean":%.3f,"p50":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f},'
    .. '"wrk_corrected_latency_ms":{"p50":%.3f,"p99":%.3f}}\n',
    summary.duration, summary.requests, summary.bytes, total, (first and (last - first)) or 0,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(codes, ","),
    #all, (#all > 0 and sum / #all or -1) * 1000, percentile(all, 50) * 1000, percentile(all, 95) * 1000,
    percentile(all, 99) * 1000, (all[#all] or -1) * 1000,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
