-- pendiente -> confirmada, unless a compensation holds a live claim: then the compensator
-- may already be refunding, and confirming would sell seats it is about to give back.
-- KEYS: record hash
-- ARGV: fecha_compra (ms), ahora (ms)
local r = redis.call('HMGET', KEYS[1], 'estado', 'reclamada_hasta')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
if r[1] ~= 'pendiente' then
  return redis.error_reply('EF_NO_PENDIENTE ' .. r[1])
end
if r[2] and tonumber(r[2]) > tonumber(ARGV[2]) then
  return redis.error_reply('EF_RECLAMADA ' .. r[2])
end
redis.call('HSET', KEYS[1], 'estado', 'confirmada', 'paso', 'confirmacion', 'fase', 'hecho',
  'fecha_compra', ARGV[1], 'actualizada', ARGV[2])
return redis.call('HGETALL', KEYS[1])
