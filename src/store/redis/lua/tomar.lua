-- Holds seats for one purchase, all or nothing. The counter is checked before it moves,
-- so a refused request changes nothing it did not have to and the counter never goes
-- negative. When the counter is short, the event's expired holds whose payment never
-- started (still at step `inventario`, no ledger entry, not taken over) are released
-- first, in this same step: a crashed buyer cannot keep seats from the next one. Holds
-- whose payment may have started are left to `compensar`.
-- KEYS: counter, reservas set, retenidas zset, record hash, user lock
-- ARGV: reserva, entradas, ttl (ms), min lock ttl (ms), record key prefix, ledger key
--       prefix, lock key prefix, lock key suffix, expired holds to release at most
--       (domain::LIBERABLES_POR_TOMA), then the record's field/value pairs
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
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('EF_EXISTE')
end
local ahora = ahora_ms()
local pedidas = tonumber(ARGV[2])
if disponibles < pedidas then
  local vencidas = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ahora, 'LIMIT', 0, tonumber(ARGV[9]))
  for _, id in ipairs(vencidas) do
    local k = ARGV[5] .. id
    local r = redis.call('HMGET', k, 'estado', 'terminada', 'toma', 'paso', 'entradas', 'usuario_id')
    if r[1] == 'pendiente' and r[2] == '0' and not r[3] and r[4] == 'inventario'
        and redis.call('EXISTS', ARGV[6] .. id) == 0 then
      disponibles = redis.call('INCRBY', KEYS[1], r[5])
      redis.call('HSET', k, 'estado', 'expirada', 'terminada', '1', 'actualizada', ahora)
      redis.call('ZREM', KEYS[3], id)
      local bloqueo = ARGV[7] .. r[6] .. ARGV[8]
      if redis.call('GET', bloqueo) == id then
        redis.call('DEL', bloqueo)
      end
    end
  end
  if disponibles < pedidas then
    return redis.error_reply('EF_SIN_ENTRADAS ' .. disponibles)
  end
end
local expira = ahora + tonumber(ARGV[3])
redis.call('DECRBY', KEYS[1], pedidas)
redis.call('HSET', KEYS[4], unpack(ARGV, 10))
redis.call('HSET', KEYS[4], 'creada', ahora, 'actualizada', ahora, 'expira', expira)
redis.call('ZADD', KEYS[3], expira, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[2] .. ':orden', 0, ARGV[1])
redis.call('SET', KEYS[5], ARGV[1], 'PX', math.max(tonumber(ARGV[3]), tonumber(ARGV[4])))
return redis.call('HGETALL', KEYS[4])
