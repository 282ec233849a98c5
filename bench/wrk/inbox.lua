-- GET the inbox of a random user of TOKENS; with UNCACHED=1 every URL is new (a cache miss).
local tokens = {}
for t in string.gmatch(os.getenv("TOKENS"), "[^,]+") do table.insert(tokens, t) end
local uncached = os.getenv("UNCACHED") == "1"
local counter = 0

request = function()
  counter = counter + 1
  local path = "/api/v1/messages/"
  if uncached then path = path .. "?miss=" .. counter .. "-" .. math.random(1000000) end
  local headers = { ["Authorization"] = "Token " .. tokens[math.random(#tokens)] }
  return wrk.format("GET", path, headers)
end
