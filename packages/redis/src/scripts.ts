/**
 * The Lua scripts that make each step atomic in Redis. Every write that names an epoch runs
 * only while the session still has it: a node that lost the session (frozen, cut off) gets
 * `FENCED` and writes nothing. KEYS[1] is the session hash, KEYS[2] its frame list, KEYS[3]
 * its ended marker; they share the `{id}` hash tag, so the scripts also run on Redis Cluster.
 */

const FENCE = `if redis.call('HGET', KEYS[1], 'ep') ~= ARGV[1] then
  return redis.error_reply('FENCED')
end
redis.call('HINCRBY', KEYS[1], 'v', 1)`;

/**
 * KEYS[3] here is the session's resume counter. ARGV: expected epoch, owner, token hash,
 * pending token hash, ttl ms, resumes allowed per minute, expected version ('' for any), the
 * redelivery mark bound → the
 * new epoch; 0 when the epoch or version moved on; -1 when the session is gone; -2 when it
 * was resumed too often this minute.
 */
export const CLAIM = `local ep = redis.call('HGET', KEYS[1], 'ep')
if not ep then return -1 end
if ep ~= ARGV[1] then return 0 end
if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], 'v') ~= ARGV[7] then return 0 end
local resumes = redis.call('INCR', KEYS[3])
if resumes == 1 then redis.call('PEXPIRE', KEYS[3], 60000) end
if resumes > tonumber(ARGV[6]) then return -2 end
local epoch = tonumber(ep) + 1
redis.call('HSET', KEYS[1], 'ep', epoch, 'own', ARGV[2], 'th', ARGV[3], 'pth', ARGV[4], 'held', 1, 'rd', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return epoch`;

/**
 * ARGV: epoch, seq, frame, ttl ms[, room, entry id]. Appends server→client frame `seq`; with a
 * room entry, moves the session's cursor of that room to it in the same step.
 */
export const APPEND = `${FENCE}
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'out', ARGV[2])
if ARGV[5] then
  local cursors = cjson.decode(redis.call('HGET', KEYS[1], 'rc') or '{}')
  cursors[ARGV[5]] = ARGV[6]
  redis.call('HSET', KEYS[1], 'rc', cjson.encode(cursors))
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`;

/**
 * ARGV: epoch, ttl ms, then field/value pairs. Positions only move forward; a higher client
 * ack drops the acknowledged frames from the head of the list.
 */
export const SYNC = `${FENCE}
for i = 3, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if field == 'ack' or field == 'in' then
    local old = tonumber(redis.call('HGET', KEYS[1], field))
    local new = tonumber(value)
    if new > old then
      if field == 'ack' then redis.call('LTRIM', KEYS[2], new - old, -1) end
      redis.call('HSET', KEYS[1], field, value)
    end
  else
    redis.call('HSET', KEYS[1], field, value)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

/** ARGV: epoch, close code, ended-marker ttl ms. Deletes the session, remembers how it ended. */
export const END = `${FENCE}
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1`;
