-- One page of an event's reservation ids, in id order, after a cursor: what `reservas
-- listar` walks, so a listing of any length reads one page at a time. The order comes
-- from the `orden` zset (every member at score 0, so ZRANGEBYLEX sorts by id), which
-- `tomar.lua` and `restaurar.lua` fill beside the `reservas` set. A set written before the
-- index existed is indexed here once, in this same atomic step.
-- KEYS: reservas set, orden zset
-- ARGV: cursor (empty: from the start), n
if redis.call('ZCARD', KEYS[2]) ~= redis.call('SCARD', KEYS[1]) then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    redis.call('ZADD', KEYS[2], 0, id)
  end
end
local desde = '-'
if ARGV[1] ~= '' then
  desde = '(' .. ARGV[1]
end
return redis.call('ZRANGEBYLEX', KEYS[2], desde, '+', 'LIMIT', 0, tonumber(ARGV[2]))
