-- Deletes an event's keys only when its capacity is still the one the caller read and
-- no seat is out. The record and ledger keys are built here from ARGV prefixes; they
-- carry the event's hash tag, so they share KEYS' slot.
-- KEYS: counter, reservas set, retenidas zset, capacity
-- ARGV: aforo, record key prefix, ledger key prefix
-- Returns the ids of the deleted records (their lookup keys live in other slots).
local a = redis.call('GET', KEYS[4]) or ARGV[1]
if tonumber(a) ~= tonumber(ARGV[1]) then
  return redis.error_reply('EF_AFORO_CAMBIO ' .. a)
end
local ids = redis.call('SMEMBERS', KEYS[2])
local retenidas, primera = 0, ''
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', ARGV[2] .. id, 'estado', 'entradas')
  if r[1] == 'pendiente' or r[1] == 'confirmada' then
    retenidas = retenidas + (tonumber(r[2]) or 0)
    if primera == '' or r[1] == 'pendiente' then
      primera = id
    end
  end
end
if retenidas > 0 then
  return redis.error_reply('EF_RETENIDAS ' .. retenidas .. ' ' .. primera)
end
local c = redis.call('GET', KEYS[1])
if c and tonumber(c) ~= tonumber(ARGV[1]) then
  return redis.error_reply('EF_FUERA ' .. c)
end
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[2] .. id, ARGV[3] .. id)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[2] .. ':orden', KEYS[3], KEYS[4])
return ids
