#pragma once
// The compare-and-set of an experiment's control (private to src/store). Kept apart from
// redis_scripts.hpp: the store's other scripts change for other reasons.

namespace switchyard::redis_lua {

// Writes one control only if nobody changed it since the caller read it, and announces it.
// ARGV: controls hash key, experiment (field), "1" when the caller read a value / "0" when it
// read none, the value read, the new value, the events channel, the announcement.
// Returns 1 when written, 0 when the stored value is no longer the one read (the caller reads
// again and re-applies its edit). A script runs atomically: no write can come in between.
inline constexpr const char* control_cas = R"lua(
local cur = redis.call('HGET', ARGV[1], ARGV[2])
if ARGV[3] == '1' then
  if cur ~= ARGV[4] then return 0 end
elseif cur then
  return 0
end
redis.call('HSET', ARGV[1], ARGV[2], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
)lua";

}  // namespace switchyard::redis_lua
