-- Moves the counter by the capacity change. Lowering only while no seat is out, so the
-- new capacity can never be below what was already sold or held.
-- KEYS: counter
-- ARGV: anterior, nuevo, nuevo - anterior
local c = redis.call('GET', KEYS[1])
if not c then
  return redis.error_reply('EF_SIN_CONTADOR')
end
if tonumber(ARGV[2]) < tonumber(ARGV[1]) and tonumber(c) ~= tonumber(ARGV[1]) then
  return redis.error_reply('EF_FUERA ' .. c)
end
return redis.call('INCRBY', KEYS[1], ARGV[3])
