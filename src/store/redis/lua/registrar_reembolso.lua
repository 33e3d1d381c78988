-- Refunds an approved charge once; false when nothing was charged.
-- KEYS: ledger hash
if redis.call('HGET', KEYS[1], 'aprobado') ~= '1' then
  return false
end
if redis.call('HEXISTS', KEYS[1], 'reembolsado') == 0 then
  redis.call('HSET', KEYS[1], 'reembolsado', ahora_ms())
end
return redis.call('HGETALL', KEYS[1])
