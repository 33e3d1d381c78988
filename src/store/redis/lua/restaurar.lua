-- Writes a record back whole, and its ledger entry if that is missing: the repair after
-- data loss, and the completion from the history of a purchase the caller has taken over.
-- Only then: a record that exists and is not taken over for compensation is live, and a
-- repair computed from a snapshot must never overwrite it (returns 0). Stale optional
-- fields must not survive, hence DEL before HSET. The counter is deliberately left alone.
-- KEYS: record hash, reservas set, retenidas zset, ledger hash
-- ARGV: reserva, terminada (0/1), expira (ms), k, then k ledger field/value pairs, then
--       the record's field/value pairs
local r = redis.call('HMGET', KEYS[1], 'estado', 'terminada', 'toma')
if r[1] and not (r[2] == '0' and r[3] == 'compensacion') then
  return 0
end
local k = tonumber(ARGV[4])
if k > 0 and redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('HSET', KEYS[4], unpack(ARGV, 5, 4 + 2 * k))
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5 + 2 * k))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[2] .. ':orden', 0, ARGV[1])
if ARGV[2] == '0' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
