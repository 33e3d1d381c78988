-- Compare-and-set of an event's capacity, moving the counter by the same difference in
-- this one step, so two admins (or an admin and a sale) can never invent seats: the
-- loser sees the capacity it read is gone. Lowering stops where the counter would go
-- below zero, i.e. at the seats already held or sold.
-- KEYS: counter, capacity
-- ARGV: anterior, nuevo
local c = redis.call('GET', KEYS[1])
if not c then
  return redis.error_reply('EF_SIN_CONTADOR')
end
local a = redis.call('GET', KEYS[2]) or ARGV[1]
if tonumber(a) ~= tonumber(ARGV[1]) then
  return redis.error_reply('EF_AFORO_CAMBIO ' .. a)
end
if tonumber(c) > tonumber(a) then
  return redis.error_reply('EF_CONTADOR_EXCEDE ' .. c)
end
local nuevo = tonumber(c) + tonumber(ARGV[2]) - tonumber(a)
if nuevo < 0 then
  return redis.error_reply('EF_FUERA ' .. c)
end
redis.call('SET', KEYS[1], nuevo)
redis.call('SET', KEYS[2], ARGV[2])
return nuevo
