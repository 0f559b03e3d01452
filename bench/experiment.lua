-- wrk script for bench/experiment_overhead.sh: the chat.lua request, sent to an experiment
-- (model "assistant") by a different user each time, so every request is assigned, rewritten
-- (system prompt, model, params) and tagged with a signed feedback id.
-- BENCH_MODEL=gpt-4o-mini sends the same request outside the experiment (the baseline), so the
-- two runs differ only in the experiment path.
local counter = 0
local model = os.getenv("BENCH_MODEL") or "assistant"
-- BENCH_USERS=N cycles through N user ids; unset, every request is a new user (a new unit row).
local users = tonumber(os.getenv("BENCH_USERS") or "0")
local body = '{"model":"' .. model .. '","metadata":{"audience":"developers"},' ..
  '"messages":[{"role":"user","content":"hi"}]}'

request = function()
  counter = counter + 1
  local id = counter
  if users > 0 then
    id = counter % users
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer sk-bench-client",
    ["x-mock-tokens"] = "16",
    ["x-user-id"] = "user-" .. id,
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), summary.errors.status))
end
