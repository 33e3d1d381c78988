-- Compare-and-set of an event's seat counter (`verificar --reparar`): sets it only if
-- it still holds what the repair read, so a sale that ran meanwhile is never undone.
-- KEYS[1] counter. ARGV[1] expected value ('' = missing), ARGV[2] new value.
local actual = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if actual then return 0 end
elseif actual ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
