-- Sets an event's counter to what its records say, in one step: capacity minus the seats
-- of its pending and confirmed purchases, read here. A sale or a release running beside
-- the repair can never be undone or counted twice, as a repair computed from a snapshot
-- could (a compare-and-set on the counter alone misses a take and a release of the
-- same size in between). It reads every record of the event: O(records), maintenance only.
-- KEYS: counter, reservas set, capacity
-- ARGV: aforo (when the capacity key is missing), record key prefix
-- Returns {counter before ('' if missing), counter after}.
local aforo = tonumber(redis.call('GET', KEYS[3]) or ARGV[1])
local fuera = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local r = redis.call('HMGET', ARGV[2] .. id, 'estado', 'entradas')
  if r[1] == 'pendiente' or r[1] == 'confirmada' then
    fuera = fuera + (tonumber(r[2]) or 0)
  end
end
local antes = redis.call('GET', KEYS[1])
local despues = aforo - fuera
if not antes or tonumber(antes) ~= despues then
  redis.call('SET', KEYS[1], despues)
end
return {antes or '', tostring(despues)}
