-- Finishes a confirmed purchase: drops its hold and the user's lock. Returns 0 for a
-- purchase taken over meanwhile, which then belongs to its compensator. `actualizada`
-- keeps the confirmation's time: finishing changes nothing a client sees.
-- KEYS: record hash, retenidas zset, user lock
-- ARGV: reserva
local r = redis.call('HMGET', KEYS[1], 'estado', 'terminada', 'toma')
if r[1] ~= 'confirmada' or r[2] ~= '0' or r[3] then
  return 0
end
redis.call('HSET', KEYS[1], 'paso', 'historial', 'fase', 'hecho', 'terminada', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
return 1
