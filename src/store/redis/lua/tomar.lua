-- Holds seats for one purchase, all or nothing. The counter is checked before it moves,
-- so a refused request changes nothing and the counter can never go negative.
-- KEYS: counter, reservas set, retenidas zset, record hash, user lock
-- ARGV: reserva, entradas, expira (ms), lock ttl (ms), then the record's field/value pairs
local en_curso = redis.call('GET', KEYS[5])
if en_curso then
  return redis.error_reply('EF_EN_CURSO ' .. en_curso)
end
local contador = redis.call('GET', KEYS[1])
if not contador then
  return redis.error_reply('EF_SIN_EVENTO')
end
local disponibles = tonumber(contador)
if not disponibles then
  return redis.error_reply('EF_CONTADOR_CORRUPTO')
end
if disponibles < tonumber(ARGV[2]) then
  return redis.error_reply('EF_SIN_ENTRADAS ' .. contador)
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('EF_EXISTE')
end
redis.call('DECRBY', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[4], unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[4])
return redis.call('HGETALL', KEYS[4])
