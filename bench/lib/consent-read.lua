-- wrk script for GET /v1/consent?device_id=…, cycling through devices an earlier consent.lua
-- run wrote (its ids: bench-TAG-t1-000000000001 … up to COUNT, thread 1 of a -t1 run).
-- Args (after --): the tag of that run, then COUNT. Counts non-200 answers.
local tag, count, n = "run", 1, 0
function init(args)
  tag = args[1] or "run"
  count = tonumber(args[2] or "1")
  bad = 0
end

function request()
  n = n % count + 1
  return wrk.format("GET", string.format("/v1/consent?device_id=bench-%s-t1-%012d", tag, n))
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"non200\":%d}\n",
    summary.requests, summary.duration, b))
end
