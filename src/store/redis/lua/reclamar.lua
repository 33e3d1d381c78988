-- Takes a purchase over (`toma`), a state transition that fences the saga out for good,
-- with a lease after which another compensator (never the saga) may take over.
-- Returns the record, or false when not eligible or a live owner holds it.
-- KEYS: record hash
-- ARGV: motivo (vencida | forzada | fallo | cancelacion), lease (ms), fallo text ('' none)
local r = redis.call('HMGET', KEYS[1], 'estado', 'terminada', 'expira', 'toma', 'reclamada_hasta')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
local ahora = ahora_ms()
local motivo = ARGV[1]
local libre = not r[4] or tonumber(r[5] or '0') <= ahora
local elegible
if motivo == 'fallo' then
  elegible = r[2] == '0' and not r[4]
elseif motivo == 'vencida' then
  elegible = r[2] == '0' and libre and (r[4] == 'compensacion' or tonumber(r[3]) < ahora)
elseif motivo == 'forzada' then
  elegible = r[2] == '0' and libre
else
  elegible = r[1] == 'confirmada' and r[2] == '1' and libre
end
if not elegible then
  return false
end
local toma = 'compensacion'
if motivo == 'cancelacion' then
  toma = 'cancelacion'
end
redis.call('HSET', KEYS[1], 'toma', toma, 'reclamada_hasta', ahora + tonumber(ARGV[2]))
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'fallo', ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
