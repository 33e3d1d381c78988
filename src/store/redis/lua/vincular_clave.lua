-- Binds an idempotency key once; a second binding reads the first instead (SET NX GET
-- needs Redis 7, this works on 6 too).
-- KEYS: idempotency key
-- ARGV: json {huella, reserva}, ttl (s)
local v = redis.call('GET', KEYS[1])
if v then
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
