-- wrk script for bench/experiment_overhead.sh: the chat.lua request, sent to an experiment
-- (model "assistant") by a different user each time, so every request is assigned, rewritten
-- (system prompt, model, params) and tagged with a signed feedback id.
local counter = 0
local body = '{"model":"assistant","metadata":{"audience":"developers"},' ..
  '"messages":[{"role":"user","content":"hi"}]}'

request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer sk-bench-client",
    ["x-mock-tokens"] = "16",
    ["x-user-id"] = "user-" .. counter,
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), summary.errors.status))
end
