-- POST /api/v1/messages/ as a random user of TOKENS to another user (ids in USERS).
local tokens, users = {}, {}
for t in string.gmatch(os.getenv("TOKENS"), "[^,]+") do table.insert(tokens, t) end
for u in string.gmatch(os.getenv("USERS"), "[^,]+") do table.insert(users, u) end
local counter = 0

request = function()
  counter = counter + 1
  local i = math.random(#tokens)
  local receiver = users[(i % #users) + 1]
  local body = '{"receiver": ' .. receiver .. ', "content": "load message ' .. counter .. '"}'
  local headers = { ["Authorization"] = "Token " .. tokens[i], ["Content-Type"] = "application/json" }
  return wrk.format("POST", "/api/v1/messages/", headers, body)
end
