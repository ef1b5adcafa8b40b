-- wrk script for POST /v1/requests (intake) with a unique e-mail address on every request.
-- Args (after --): a run tag ([A-Za-z0-9_-], keeps ids unique across runs on one database).
-- Counts answers by status per thread and prints them in one BENCH_JSON line at the end.
local threads = {}
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tag, n = "run", 0
function init(args)
  tag = args[1] or "run"
  accepted, other = 0, 0
  statuses = {}
end

function request()
  n = n + 1
  local body = string.format(
    '{"type":"access","email":"bench-%s-t%d-%d@example.com","country":"GB"}',
    tag, tid, n)
  return wrk.format("POST", "/v1/requests", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    other = other + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  local sample = ""
  for _, t in ipairs(threads) do
    c = c + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"accepted\":%d,\"other\":%d,\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d,\"errors_timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, c, o, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
