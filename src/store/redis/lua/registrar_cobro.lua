-- The first charge decision wins: a retried charge reads it back instead of charging again.
-- KEYS: ledger hash
-- ARGV: importe, aprobado (0/1), cobrado (ms)
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'importe', ARGV[1], 'aprobado', ARGV[2], 'cobrado', ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
