-- wrk script for POST /v1/consent with a unique device id on every request.
-- Args (after --): a run tag ([A-Za-z0-9_-], keeps ids unique across runs on one database),
-- then optionally `false` to refuse instead of give (a banner's "reject": the withdrawal path).
-- Counts answers by status per thread and prints them in one BENCH_JSON line at the end.
local threads = {}
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tag, n, given = "run", 0, "true"
function init(args)
  tag = args[1] or "run"
  if args[2] == "false" then given = "false" end
  created, other = 0, 0
  statuses = {}
end

function request()
  n = n + 1
  local body = string.format(
    '{"subject":{"device_id":"bench-%s-t%d-%012d"},"choices":{"analytics":%s},"policy_version":"2018-05-25","source":"banner"}',
    tag, tid, n, given)
  return wrk.format("POST", "/v1/consent", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  local sample = ""
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"created\":%d,\"other\":%d,\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d,\"errors_timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, c, o, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
