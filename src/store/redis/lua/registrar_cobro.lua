-- The first charge decision wins: a retried charge reads it back instead of charging
-- again. A new charge needs a purchase that is pending, not taken over and whose hold
-- has not expired by the server's clock, checked here beside the record (same slot), so
-- no charge lands after a compensator took the purchase over.
-- KEYS: ledger hash, record hash
-- ARGV: importe, aprobado (0/1)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGETALL', KEYS[1])
end
local r = redis.call('HMGET', KEYS[2], 'estado', 'terminada', 'toma', 'expira')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
local ahora = ahora_ms()
if r[3] then
  return redis.error_reply('EF_NO_COBRABLE tomada')
end
if r[1] ~= 'pendiente' or r[2] ~= '0' then
  return redis.error_reply('EF_NO_COBRABLE ' .. r[1])
end
if tonumber(r[4]) <= ahora then
  return redis.error_reply('EF_NO_COBRABLE vencida')
end
redis.call('HSET', KEYS[1], 'importe', ARGV[1], 'aprobado', ARGV[2], 'cobrado', ahora)
return redis.call('HGETALL', KEYS[1])
