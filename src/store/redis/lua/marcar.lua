-- Records saga progress, only while the saga still owns the purchase: never on a missing
-- record, a finished one, or one another actor took over.
-- KEYS: record hash
-- ARGV: paso, fase
local r = redis.call('HMGET', KEYS[1], 'estado', 'terminada', 'toma')
if not r[1] then
  return redis.error_reply('EF_NO_RESERVA')
end
if r[2] ~= '0' or r[3] then
  return redis.error_reply('EF_TOMADA ' .. (r[3] or r[1]))
end
redis.call('HSET', KEYS[1], 'paso', ARGV[1], 'fase', ARGV[2], 'actualizada', ahora_ms())
return 1
