-- pendiente -> confirmada, unless the purchase was taken over: then a compensator owns it
-- and confirming would sell seats it is about to give back. The take-over is a state, not
-- a lease, so a compensator that stalls past its lease still fences the saga out.
-- KEYS: record hash
local r = redis.call('HMGET', KEYS[1], 'estado', 'toma')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
if r[1] ~= 'pendiente' then
  return redis.error_reply('EF_NO_PENDIENTE ' .. r[1])
end
if r[2] then
  return redis.error_reply('EF_TOMADA ' .. r[2])
end
local ahora = ahora_ms()
redis.call('HSET', KEYS[1], 'estado', 'confirmada', 'paso', 'confirmacion', 'fase', 'hecho',
  'fecha_compra', ahora, 'actualizada', ahora)
return redis.call('HGETALL', KEYS[1])
