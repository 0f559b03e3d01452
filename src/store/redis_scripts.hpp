#pragma once
// The experiment store's Lua scripts (private to src/store). Keys are built inside from the
// prefix (ARGV[1]): one Redis, not Redis Cluster (docs/replicas.md).

namespace switchyard::redis_lua {

// ARGV: prefix, flush id, id TTL (s), max units per phase, the batch as JSON
// {"rows":[{e,v,pv,h,ph,n,x,m:[15],l:[idx,count…],t:[…]}],"units":[{e,v,f,h,ph,s:[7]}]}.
// Returns 1 when applied, 0 when this flush id was applied before (a retry).
inline constexpr const char* flush = R"lua(
local p = ARGV[1]
if not redis.call('SET', p .. 'flush:' .. ARGV[2], '1', 'NX', 'EX', tonumber(ARGV[3])) then
  return 0
end
local maxu = tonumber(ARGV[4])
local b = cjson.decode(ARGV[5])
local S = '\31'
local F = {'latency_n', 'latency_sum', 'latency_sum_sq', 'ttft_n', 'ttft_sum', 'ttft_sum_sq',
           'input_n', 'input_sum', 'input_sum_sq', 'output_n', 'output_sum', 'output_sum_sq',
           'cost_n', 'cost_sum', 'cost_sum_sq'}
local function fmt(x) return string.format('%.17g', x) end
for _, r in ipairs(b.rows) do
  redis.call('SADD', p .. 'experiments', r.e)
  local rid = r.ph .. S .. r.h .. S .. r.v .. S .. r.pv
  redis.call('SADD', p .. 'sx:' .. r.e, rid)
  local k = p .. 's:' .. r.e .. S .. rid
  redis.call('HINCRBY', k, 'requests', r.n)
  redis.call('HINCRBY', k, 'errors', r.x)
  for i, name in ipairs(F) do
    if r.m[i] ~= 0 then redis.call('HINCRBYFLOAT', k, name, fmt(r.m[i])) end
  end
  for i = 1, #r.l, 2 do redis.call('HINCRBY', k, 'l' .. r.l[i], r.l[i + 1]) end
  for i = 1, #r.t, 2 do redis.call('HINCRBY', k, 't' .. r.t[i], r.t[i + 1]) end
end
for _, u in ipairs(b.units) do
  local uk = p .. 'u:' .. u.e .. S .. u.ph
  local cur = redis.call('HGET', uk, u.f)
  if not cur then
    local ck = p .. 'uc:' .. u.e .. S .. u.ph
    local total = tonumber(redis.call('HGET', ck, S .. 'total') or '0')
    if total < maxu then
      local first = redis.call('HGET', p .. 'uv:' .. u.e, u.f)
      local mixed = 0
      if not first then
        redis.call('HSET', p .. 'uv:' .. u.e, u.f, u.v)
      elseif first ~= u.v or redis.call('HEXISTS', p .. 'um:' .. u.e, u.f) == 1 then
        mixed = 1
        redis.call('HSET', p .. 'um:' .. u.e, u.f, '1')
      end
      local v = {mixed}
      for i = 1, 7 do v[#v + 1] = fmt(u.s[i]) end
      v[#v + 1] = u.v
      redis.call('HSET', uk, u.f, table.concat(v, ','))
      redis.call('HINCRBY', ck, S .. 'total', 1)
      redis.call('HINCRBY', ck, u.v, 1)
      redis.call('HINCRBY', p .. 'ucx:' .. u.e, u.v, 1)
    end
  else
    local f = {}
    for x in string.gmatch(cur, '([^,]*),') do
      f[#f + 1] = x
      if #f == 8 then break end
    end
    local variant = string.sub(cur, string.len(table.concat(f, ',')) + 2)
    local mixed = tonumber(f[1])
    if variant ~= u.v then
      mixed = 1
      redis.call('HSET', p .. 'um:' .. u.e, u.f, '1')
    end
    local v = {mixed}
    for i = 1, 7 do v[#v + 1] = fmt(tonumber(f[i + 1]) + u.s[i]) end
    v[#v + 1] = variant
    redis.call('HSET', uk, u.f, table.concat(v, ','))
  end
end
return 1
)lua";

// ARGV: prefix, request id, event, experiment, the record as JSON. 1 = recorded, 0 = a duplicate
// of (request id, event), whichever replica recorded the first.
inline constexpr const char* feedback = R"lua(
local p = ARGV[1]
local key = ARGV[2] .. '\31' .. ARGV[3]
if not redis.call('SET', p .. 'fd:' .. key, '1', 'NX') then
  return 0
end
redis.call('SADD', p .. 'experiments', ARGV[4])
redis.call('HSET', p .. 'f:' .. ARGV[4], key, ARGV[5])
return 1
)lua";

// The prompt registry's write, all or nothing (experiment_store::put_prompt_versions).
// ARGV: prefix, then (field, hash, value) per version; a value is JSON with a `hash` member.
// Returns 0 when written (a field already holding the same hash is left alone), or
// {field, stored hash} for the first conflicting version, and then nothing was written.
inline constexpr const char* put_prompts = R"lua(
local k = ARGV[1] .. 'prompts'
for i = 2, #ARGV, 3 do
  local cur = redis.call('HGET', k, ARGV[i])
  if cur then
    local h = cjson.decode(cur).hash
    if h ~= ARGV[i + 1] then return {ARGV[i], tostring(h)} end
  end
end
for i = 2, #ARGV, 3 do
  redis.call('HSETNX', k, ARGV[i], ARGV[i + 2])
end
return 0
)lua";

// Removes every version of one prompt. ARGV: prefix, the field prefix (name + '\31').
// Returns how many were removed.
inline constexpr const char* delete_prompt = R"lua(
local k = ARGV[1] .. 'prompts'
local n = 0
for _, f in ipairs(redis.call('HKEYS', k)) do
  if string.sub(f, 1, #ARGV[2]) == ARGV[2] then n = n + redis.call('HDEL', k, f) end
end
return n
)lua";

}  // namespace switchyard::redis_lua
