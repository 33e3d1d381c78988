-- Prepended to every script: the server's clock in epoch ms. Expiries and leases are
-- compared with it, never with the client's, so a client whose clock is wrong cannot
-- expire holds early or keep a lease alive.
local function ahora_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
