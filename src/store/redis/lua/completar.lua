-- Finishes a confirmed purchase: drops its hold and the user's lock. Yields (returns 0)
-- to a live compensation claim, which then owns the purchase. `actualizada` keeps the
-- confirmation's time: finishing changes nothing a client sees.
-- KEYS: record hash, retenidas zset, user lock
-- ARGV: reserva, ahora (ms)
local r = redis.call('HMGET', KEYS[1], 'estado', 'terminada', 'reclamada_hasta')
if r[1] ~= 'confirmada' or r[2] ~= '0' then
  return 0
end
if r[3] and tonumber(r[3]) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'paso', 'historial', 'fase', 'hecho', 'terminada', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
return 1
