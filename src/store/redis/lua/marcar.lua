-- Records saga progress without ever creating a partial record for a missing one.
-- KEYS: record hash
-- ARGV: paso, fase, actualizada (ms)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('EF_NO_RESERVA')
end
redis.call('HSET', KEYS[1], 'paso', ARGV[1], 'fase', ARGV[2], 'actualizada', ARGV[3])
return 1
