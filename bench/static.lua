-- wrk script for bench/static.sh: a non-stream chat request to the experiment "assistant" from
-- one of 1,000 users (each is assigned a variant, its prompt rendered, the body rewritten), with
-- a bearer key for the api_key rate limit. Prints one machine-readable RESULT line (latencies in
-- microseconds). STOP_AFTER=N stops the run after N responses (the syscall count in static.sh).
local counter = 0
local responses = 0
local stop_after = tonumber(os.getenv("STOP_AFTER") or "0")
local body = '{"model":"assistant","metadata":{"audience":"developers"},' ..
  '"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'

request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/chat/completions", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer sk-bench-client",
    ["x-user-id"] = "user-" .. (counter % 1000),
  }, body)
end

-- Only with STOP_AFTER: a script that defines response() makes wrk hand every response's
-- headers and body to Lua, work that is wrk's and not the proxy's. (It is not what makes the
-- gateway's c=1 p99 ~1 ms: that is wrk's coordinated-omission correction of a few multi-ms
-- stalls, bench/PROFILE.md.)
if stop_after > 0 then
  response = function(status, headers, body)
    responses = responses + 1
    if responses >= stop_after then
      wrk.thread:stop()
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d " ..
    "p999_us=%d max_us=%d non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
