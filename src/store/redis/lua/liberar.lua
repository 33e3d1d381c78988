-- Gives the seats back and sets the final state, once: the state check makes a second
-- release (a retry, or a racing compensator) a no-op that returns 0.
-- KEYS: record hash, counter, retenidas zset, user lock
-- ARGV: reserva, estado final, ahora (ms)
local r = redis.call('HMGET', KEYS[1], 'estado', 'entradas')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
if r[1] ~= 'pendiente' and r[1] ~= 'confirmada' then
  return 0
end
-- INCRBY on a missing key would invent a counter holding only these seats.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('EF_SIN_CONTADOR')
end
redis.call('INCRBY', KEYS[2], r[2])
redis.call('HSET', KEYS[1], 'estado', ARGV[2], 'terminada', '1', 'actualizada', ARGV[3])
redis.call('HDEL', KEYS[1], 'reclamada_hasta')
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('DEL', KEYS[4])
end
return 1
