-- Writes a record back whole (repair after data loss): stale optional fields must not
-- survive, hence DEL before HSET. The counter is deliberately left alone.
-- KEYS: record hash, reservas set, retenidas zset
-- ARGV: reserva, terminada (0/1), expira (ms), then the record's field/value pairs
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SADD', KEYS[2], ARGV[1])
if ARGV[2] == '0' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
