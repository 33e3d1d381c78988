-- Gives the seats back and sets the final state, once: the state check makes a second
-- release (a retry, or a racing compensator) a no-op that returns 0. Only a purchase that
-- was taken over, and only once no approved charge stands: money never outlives a sale.
-- KEYS: record hash, counter, retenidas zset, user lock, ledger hash
-- ARGV: reserva, estado final pedido (compensada | expirada | cancelada)
local r = redis.call('HMGET', KEYS[1], 'estado', 'entradas', 'toma')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
if r[1] ~= 'pendiente' and r[1] ~= 'confirmada' then
  return 0
end
if not r[3] then
  return redis.error_reply('EF_NO_TOMADA')
end
local p = redis.call('HMGET', KEYS[5], 'aprobado', 'reembolsado')
local cobrado = p[1] == '1'
if cobrado and not p[2] then
  return redis.error_reply('EF_COBRO_EN_PIE')
end
-- INCRBY on a missing key would invent a counter holding only these seats.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('EF_SIN_CONTADOR')
end
local final = ARGV[2]
if r[3] == 'cancelacion' then
  final = 'cancelada'
elseif final == 'cancelada' or (final == 'expirada' and cobrado) then
  final = 'compensada'
end
redis.call('INCRBY', KEYS[2], r[2])
redis.call('HSET', KEYS[1], 'estado', final, 'terminada', '1', 'actualizada', ahora_ms())
redis.call('HDEL', KEYS[1], 'reclamada_hasta')
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('DEL', KEYS[4])
end
return 1
