-- Grants one compensator a lease on a purchase, so the saga and other compensators keep
-- out until it ends. Returns the record, or false when not eligible or already claimed.
-- KEYS: record hash
-- ARGV: motivo (vencida | forzada | cancelacion), ahora (ms), hasta (ms)
local r = redis.call('HMGET', KEYS[1], 'estado', 'terminada', 'expira', 'reclamada_hasta')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
local ahora = tonumber(ARGV[2])
if r[4] and tonumber(r[4]) > ahora then
  return false
end
local elegible
if ARGV[1] == 'vencida' then
  elegible = r[2] == '0' and tonumber(r[3]) < ahora
elseif ARGV[1] == 'forzada' then
  elegible = r[2] == '0'
else
  elegible = r[1] == 'confirmada' and r[2] == '1'
end
if not elegible then
  return false
end
redis.call('HSET', KEYS[1], 'reclamada_hasta', ARGV[3])
return redis.call('HGETALL', KEYS[1])
