-- wrk script for POST /v1/decide: a fixed body, an optional bearer token from the
-- environment (BENCH_TOKEN). wrk prebuilds one request, so the load generator stays cheap.
wrk.method = "POST"
wrk.body = '{"subject":{"email":"ada@example.com"},"purpose":"analytics","categories":["analytics_events","keystrokes"],"country":"DE"}'
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Count statuses other than 200 so a run of errors cannot pass for throughput.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"non2xx\":%d,\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d,\"errors_timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
