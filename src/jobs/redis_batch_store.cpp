#include "switchyard/jobs/redis_batch_store.hpp"

#include "switchyard/core/random.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

namespace switchyard {

namespace {

// Pieces of a file written while its writer has not committed expire on their own: a replica
// that dies mid-upload leaves nothing behind for longer than this.
constexpr std::int64_t uncommitted_ttl_ms = 3'600'000;
// Ids fetched per round trip when listing, and results per page of for_each_result.
constexpr std::size_t list_page = 256;
constexpr std::size_t result_page = 256;

// KEYS: file, files, seq. ARGV: id, bytes, created_at, filename, purpose.
const redis_script& add_file_script() {
  static const redis_script s(R"lua(
local seq = redis.call('INCR', KEYS[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', seq, 'id', ARGV[1], 'bytes', ARGV[2], 'created_at', ARGV[3],
           'filename', ARGV[4], 'purpose', ARGV[5])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
return seq
)lua");
  return s;
}

// KEYS: file, files. ARGV: id.
const redis_script& delete_file_script() {
  static const redis_script s(R"lua(
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
)lua");
  return s;
}

// KEYS: content. ARGV: chunk key prefix (…:<gen>:), gen, pieces, bytes. The new pieces become
// permanent and the old ones go, in one step: a reader sees the old content or the new.
const redis_script& commit_content_script() {
  static const redis_script s(R"lua(
local old = redis.call('HMGET', KEYS[1], 'prefix', 'pieces')
for i = 0, tonumber(ARGV[3]) - 1 do redis.call('PERSIST', ARGV[1] .. i) end
redis.call('HSET', KEYS[1], 'prefix', ARGV[1], 'gen', ARGV[2], 'pieces', ARGV[3],
           'bytes', ARGV[4])
if old[1] and old[1] ~= ARGV[1] then
  for i = 0, tonumber(old[2]) - 1 do redis.call('DEL', old[1] .. i) end
end
return 1
)lua");
  return s;
}

// KEYS: content.
const redis_script& remove_content_script() {
  static const redis_script s(R"lua(
local old = redis.call('HMGET', KEYS[1], 'prefix', 'pieces')
if not old[1] then return 0 end
for i = 0, tonumber(old[2]) - 1 do redis.call('DEL', old[1] .. i) end
redis.call('DEL', KEYS[1])
return 1
)lua");
  return s;
}

// KEYS: content. ARGV: offset, max, piece size. One round trip: the piece holding `offset`, from
// there to its end (or `max` bytes).
const redis_script& read_content_script() {
  static const redis_script s(R"lua(
local c = redis.call('HMGET', KEYS[1], 'prefix', 'bytes')
if not c[1] then return false end
local off = tonumber(ARGV[1])
if off >= tonumber(c[2]) then return '' end
local piece = tonumber(ARGV[3])
local n = math.floor(off / piece)
local within = off - n * piece
local len = math.min(tonumber(ARGV[2]), piece - within)
return redis.call('GETRANGE', c[1] .. n, within, within + len - 1)
)lua");
  return s;
}

// KEYS: batch, batches, open, seq. ARGV: id, open ('1'/'0'), then field/value pairs.
const redis_script& add_batch_script() {
  static const redis_script s(R"lua(
local seq = redis.call('INCR', KEYS[4])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', seq)
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], seq, ARGV[1])
if ARGV[2] == '1' then redis.call('ZADD', KEYS[3], seq, ARGV[1]) end
return seq
)lua");
  return s;
}

// KEYS: batch, open. ARGV: id, terminal ('1'/'0'), n pairs, pairs…, fields to delete….
const redis_script& save_batch_script() {
  static const redis_script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[4 + 2 * i], ARGV[5 + 2 * i]) end
for i = 4 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
)lua");
  return s;
}

// KEYS: batch, open. ARGV: from, to, timestamp field, at, id, terminal ('1'/'0').
const redis_script& move_batch_script() {
  static const redis_script s(R"lua(
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], ARGV[3], ARGV[4])
if ARGV[6] == '1' then redis.call('ZREM', KEYS[2], ARGV[5]) end
return 1
)lua");
  return s;
}

// KEYS: cids, refs, pending. ARGV: triples line_no, custom_id, encoded ref. Returns the line
// numbers whose custom_id was taken.
const redis_script& add_lines_script() {
  static const redis_script s(R"lua(
local dup = {}
for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i + 1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
    redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i])
  else
    dup[#dup + 1] = tonumber(ARGV[i])
  end
end
return dup
)lua");
  return s;
}

// KEYS: refs, results, pending, out, err, batch. ARGV: line, ok, output, input tokens, output
// tokens, cost. The result and the counters together, once: a second result for the line (a
// runner that lost its lease, a line run again after a takeover) changes nothing.
const redis_script& record_script() {
  static const redis_script s(R"lua(
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[1], ARGV[1])
  redis.call('HINCRBY', KEYS[6], 'completed', 1)
else
  redis.call('ZADD', KEYS[5], ARGV[1], ARGV[1])
  redis.call('HINCRBY', KEYS[6], 'failed', 1)
end
redis.call('HINCRBY', KEYS[6], 'input_tokens', ARGV[4])
redis.call('HINCRBY', KEYS[6], 'output_tokens', ARGV[5])
redis.call('HINCRBYFLOAT', KEYS[6], 'cost_usd', ARGV[6])
return 1
)lua");
  return s;
}

// KEYS: lease. ARGV: owner, ttl ms.
const redis_script& claim_script() {
  static const redis_script s(R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua");
  return s;
}

// KEYS: lease. ARGV: owner.
const redis_script& release_script() {
  static const redis_script s(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");
  return s;
}

std::uint64_t to_u64(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}
std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}
double to_double(const std::string& s) {
  return s.empty() ? 0.0 : std::strtod(s.c_str(), nullptr);
}
std::string real_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

using fields = std::map<std::string, std::string, std::less<>>;

// HGETALL's flat array; empty for a missing key.
fields hash_of(const redis_reply& r) {
  fields out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out.emplace(r.elements[i].str, r.elements[i + 1].str);
  }
  return out;
}

std::string_view get(const fields& f, std::string_view k) {
  auto it = f.find(k);
  return it == f.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<std::int64_t> opt(const fields& f, std::string_view k) {
  auto it = f.find(k);
  if (it == f.end()) {
    return std::nullopt;
  }
  return to_i64(it->second);
}

file_record file_of(const fields& f) {
  return {std::string(get(f, "id")), to_u64(get(f, "bytes")), to_i64(get(f, "created_at")),
          std::string(get(f, "filename")), std::string(get(f, "purpose"))};
}

struct optional_member {
  const char* name;
  std::optional<std::int64_t> batch_record::*member;
};
constexpr optional_member optional_members[] = {
    {"in_progress_at", &batch_record::in_progress_at},
    {"expires_at", &batch_record::expires_at},
    {"finalizing_at", &batch_record::finalizing_at},
    {"completed_at", &batch_record::completed_at},
    {"failed_at", &batch_record::failed_at},
    {"expired_at", &batch_record::expired_at},
    {"cancelling_at", &batch_record::cancelling_at},
    {"cancelled_at", &batch_record::cancelled_at},
};

// Every member but the counters as field/value pairs; the absent timestamps in `absent`.
void batch_pairs(const batch_record& b, std::vector<std::string>& pairs,
                 std::vector<std::string>* absent) {
  const auto put = [&](const char* k, std::string v) {
    pairs.emplace_back(k);
    pairs.push_back(std::move(v));
  };
  put("id", b.id);
  put("endpoint", b.endpoint);
  put("model", b.model);
  put("input_file_id", b.input_file_id);
  put("completion_window", b.completion_window);
  put("status", std::string(to_string(b.status)));
  put("output_file_id", b.output_file_id);
  put("error_file_id", b.error_file_id);
  put("errors", b.errors_json);
  put("metadata", b.metadata_json);
  put("created_at", std::to_string(b.created_at));
  put("total", std::to_string(b.total));
  put("authorization", b.authorization);
  for (const auto& m : optional_members) {
    if (const auto& v = b.*(m.member)) {
      put(m.name, std::to_string(*v));
    } else if (absent) {
      absent->emplace_back(m.name);
    }
  }
}

batch_record batch_of(const fields& f) {
  batch_record b;
  b.id = get(f, "id");
  b.endpoint = get(f, "endpoint");
  b.model = get(f, "model");
  b.input_file_id = get(f, "input_file_id");
  b.completion_window = get(f, "completion_window");
  b.status = parse_batch_status(get(f, "status")).value_or(batch_status::failed);
  b.output_file_id = get(f, "output_file_id");
  b.error_file_id = get(f, "error_file_id");
  b.errors_json = get(f, "errors");
  b.metadata_json = get(f, "metadata");
  b.created_at = to_i64(get(f, "created_at"));
  for (const auto& m : optional_members) {
    b.*(m.member) = opt(f, m.name);
  }
  b.total = to_u64(get(f, "total"));
  b.completed = to_u64(get(f, "completed"));
  b.failed = to_u64(get(f, "failed"));
  b.input_tokens = to_u64(get(f, "input_tokens"));
  b.output_tokens = to_u64(get(f, "output_tokens"));
  b.cost_usd = to_double(std::string(get(f, "cost_usd")));
  b.authorization = get(f, "authorization");
  return b;
}

// A line's ref as stored: "<offset> <length> <custom_id>" (the id last: it may hold spaces).
std::string encode_ref(const batch_line_ref& l) {
  return std::to_string(l.offset) + ' ' + std::to_string(l.length) + ' ' + l.custom_id;
}
batch_line_ref decode_ref(std::int64_t line_no, std::string_view s) {
  batch_line_ref l;
  l.line_no = line_no;
  const auto a = s.find(' ');
  const auto b = a == std::string_view::npos ? a : s.find(' ', a + 1);
  if (b == std::string_view::npos) {
    return l;
  }
  l.offset = to_u64(s.substr(0, a));
  l.length = static_cast<std::uint32_t>(to_u64(s.substr(a + 1, b - a - 1)));
  l.custom_id = s.substr(b + 1);
  return l;
}

std::string random_hex16() {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  auto v = random_u64();
  for (int i = 0; i < 16; ++i, v >>= 4) {
    out.push_back(digits[v & 15]);
  }
  return out;
}

// Pieces go to `<prefix>bt:chunk:<id>:<gen>:<n>` (expiring until the commit), a generation per
// writer, so that a repeated finalization never mixes its pieces with the last one's.
class redis_content_writer final : public content_writer {
 public:
  redis_content_writer(redis_batch_store& store, std::string id)
      : store_(store), id_(std::move(id)), gen_(random_hex16()) {
    piece_prefix_ = store_.key("chunk", id_) + ":" + gen_ + ":";
    buf_.reserve(content_piece_bytes);
  }
  ~redis_content_writer() override {
    if (!committed_ && pieces_ > 0) {
      std::vector<std::string> del{"DEL"};
      for (std::size_t i = 0; i < pieces_; ++i) {
        del.push_back(piece_prefix_ + std::to_string(i));
      }
      (void)store_.call(std::move(del));  // best effort: the pieces expire anyway
    }
  }
  result<void> append(std::string_view bytes) override {
    while (!bytes.empty()) {
      const auto n = std::min(bytes.size(), content_piece_bytes - buf_.size());
      buf_.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      total_ += n;
      if (buf_.size() == content_piece_bytes) {
        if (auto r = flush(); !r) {
          return r;
        }
      }
    }
    return {};
  }
  result<void> commit() override {
    if (!buf_.empty()) {
      if (auto r = flush(); !r) {
        return r;
      }
    }
    auto r = store_.eval(commit_content_script(), {store_.key("content", id_)},
                         {piece_prefix_, gen_, std::to_string(pieces_), std::to_string(total_)});
    if (!r) {
      return r.error();
    }
    committed_ = true;
    return {};
  }

 private:
  result<void> flush() {
    auto r = store_.call({"SET", piece_prefix_ + std::to_string(pieces_), buf_, "PX",
                          std::to_string(uncommitted_ttl_ms)});
    if (!r) {
      return r.error();
    }
    ++pieces_;
    buf_.clear();
    return {};
  }
  redis_batch_store& store_;
  std::string id_, gen_, piece_prefix_, buf_;
  std::size_t pieces_ = 0;
  std::uint64_t total_ = 0;
  bool committed_ = false;
};

}  // namespace

redis_batch_store::redis_batch_store(std::shared_ptr<redis_client> client,
                                     redis_batch_store_options opts)
    : client_(std::move(client)), opts_(std::move(opts)) {}

result<std::unique_ptr<redis_batch_store>> redis_batch_store::open(
    std::shared_ptr<redis_client> client, redis_batch_store_options opts) {
  std::error_code ec;
  std::filesystem::create_directories(opts.spool_dir, ec);
  if (ec) {
    return make_error(errc::internal,
                      "batches: cannot create " + opts.spool_dir + ": " + ec.message());
  }
  // Copies are unlinked once open (open_local); what is left was cut by a crash mid-copy.
  for (const auto& e : std::filesystem::directory_iterator(opts.spool_dir, ec)) {
    std::filesystem::remove(e.path(), ec);
  }
  return std::unique_ptr<redis_batch_store>(
      new redis_batch_store(std::move(client), std::move(opts)));
}

std::string redis_batch_store::key(std::string_view kind, std::string_view id) const {
  std::string k = opts_.key_prefix + "bt:" + std::string(kind);
  if (!id.empty()) {
    k += ':';
    k += id;
  }
  return k;
}

namespace {

error unavailable(const error& e) {
  if (e.code == errc::unavailable) {
    return make_error(errc::unavailable,
                      "The Batch API's shared store (Redis) did not answer; retry.");
  }
  return e;
}

}  // namespace

result<redis_reply> redis_batch_store::call(std::vector<std::string> argv) {
  auto r = client_->command_sync(std::move(argv), opts_.timeout);
  if (!r) {
    return unavailable(r.error());
  }
  if (r->kind == redis_reply::type::error) {
    return make_error(errc::internal, "batch store (redis): " + r->str);
  }
  return r;
}

result<redis_reply> redis_batch_store::eval(const redis_script& s, std::vector<std::string> keys,
                                            std::vector<std::string> args) {
  auto r = client_->eval_sync(s, std::move(keys), std::move(args), opts_.timeout);
  if (!r) {
    return unavailable(r.error());
  }
  if (r->kind == redis_reply::type::error) {
    return make_error(errc::internal, "batch store (redis): " + r->str);
  }
  return r;
}

// ---- files ----

result<void> redis_batch_store::add_file(const file_record& f) {
  auto r =
      eval(add_file_script(), {key("file", f.id), key("files"), key("seq")},
           {f.id, std::to_string(f.bytes), std::to_string(f.created_at), f.filename, f.purpose});
  if (!r) {
    return r.error();
  }
  return {};
}

result<std::optional<file_record>> redis_batch_store::file(std::string_view id) {
  auto r = call({"HGETALL", key("file", id)});
  if (!r) {
    return r.error();
  }
  auto f = hash_of(*r);
  if (f.empty()) {
    return std::optional<file_record>();
  }
  return std::optional<file_record>(file_of(f));
}

result<std::vector<file_record>> redis_batch_store::files(std::string_view purpose,
                                                          std::string_view after, std::size_t limit,
                                                          bool ascending) {
  std::vector<file_record> out;
  // The cursor is a score bound: "(s" excludes `after` itself; ±inf from the start.
  std::string bound = ascending ? "-inf" : "+inf";
  if (!after.empty()) {
    auto s = call({"ZSCORE", key("files"), std::string(after)});
    if (!s) {
      return s.error();
    }
    if (s->kind == redis_reply::type::nil) {
      return out;  // as SQLite answers an unknown cursor: nothing after it
    }
    bound = "(" + s->str;
  }
  // Bounded: each round moves the cursor past at least one id.
  while (out.size() < limit) {
    auto ids =
        call({ascending ? "ZRANGEBYSCORE" : "ZREVRANGEBYSCORE", key("files"), bound,
              ascending ? "+inf" : "-inf", "WITHSCORES", "LIMIT", "0", std::to_string(list_page)});
    if (!ids) {
      return ids.error();
    }
    if (ids->elements.empty()) {
      break;
    }
    std::vector<std::vector<std::string>> cmds;
    for (std::size_t i = 0; i + 1 < ids->elements.size(); i += 2) {
      cmds.push_back({"HGETALL", key("file", ids->elements[i].str)});
    }
    auto rows = client_->pipeline_sync(std::move(cmds), opts_.timeout);
    if (!rows) {
      return unavailable(rows.error());
    }
    for (const auto& row : *rows) {
      auto f = hash_of(row);
      if (!f.empty() && (purpose.empty() || get(f, "purpose") == purpose) && out.size() < limit) {
        out.push_back(file_of(f));
      }
    }
    bound = "(" + ids->elements[ids->elements.size() - 1].str;
  }
  return out;
}

result<bool> redis_batch_store::delete_file(std::string_view id) {
  auto r = eval(delete_file_script(), {key("file", id), key("files")}, {std::string(id)});
  if (!r) {
    return r.error();
  }
  return r->integer == 1;
}

// ---- bytes ----

result<std::unique_ptr<content_writer>> redis_batch_store::write_content(std::string_view id) {
  return std::unique_ptr<content_writer>(new redis_content_writer(*this, std::string(id)));
}

result<std::string> redis_batch_store::read_content(std::string_view id, std::uint64_t offset,
                                                    std::size_t max) {
  auto r = eval(read_content_script(), {key("content", id)},
                {std::to_string(offset), std::to_string(std::min(max, content_piece_bytes)),
                 std::to_string(content_piece_bytes)});
  if (!r) {
    return r.error();
  }
  if (r->kind == redis_reply::type::nil) {
    return make_error(errc::not_found, "The file's content is missing from the shared store.");
  }
  return std::move(r->str);
}

result<void> redis_batch_store::remove_content(std::string_view id) {
  auto r = eval(remove_content_script(), {key("content", id)}, {});
  if (!r) {
    return r.error();
  }
  return {};
}

result<int> redis_batch_store::open_local(std::string_view id) {
  // A private copy per call, unlinked as soon as it is open: two runs of one input file never
  // share (or delete) each other's copy, and the space is freed when the descriptor closes.
  const auto path = opts_.spool_dir + "/" + std::string(id) + "." + random_hex16() + ".tmp";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(errc::internal, "cannot create " + path);
  }
  ::unlink(path.c_str());
  std::uint64_t at = 0;
  auto w = for_each_content_piece(*this, id, 0, [&](std::string_view p) -> result<void> {
    for (std::size_t done = 0; done < p.size();) {
      const auto n = ::pwrite(fd, p.data() + done, p.size() - done, static_cast<off_t>(at));
      if (n <= 0) {
        return make_error(errc::internal, "spool write failed (" + opts_.spool_dir + ")");
      }
      done += static_cast<std::size_t>(n);
      at += static_cast<std::uint64_t>(n);
    }
    return {};
  });
  if (!w) {
    ::close(fd);
    return w.error();
  }
  return fd;
}

// ---- batches ----

result<void> redis_batch_store::add_batch(const batch_record& b) {
  std::vector<std::string> args{b.id, is_terminal(b.status) ? "0" : "1"};
  batch_pairs(b, args, nullptr);
  for (auto [k, v] : {std::pair{"completed", std::to_string(b.completed)},
                      std::pair{"failed", std::to_string(b.failed)},
                      std::pair{"input_tokens", std::to_string(b.input_tokens)},
                      std::pair{"output_tokens", std::to_string(b.output_tokens)},
                      std::pair{"cost_usd", real_text(b.cost_usd)}}) {
    args.emplace_back(k);
    args.push_back(std::move(v));
  }
  auto r = eval(add_batch_script(), {key("batch", b.id), key("batches"), key("open"), key("seq")},
                std::move(args));
  if (!r) {
    return r.error();
  }
  return {};
}

result<std::optional<batch_record>> redis_batch_store::batch(std::string_view id) {
  auto r = call({"HGETALL", key("batch", id)});
  if (!r) {
    return r.error();
  }
  auto f = hash_of(*r);
  if (f.empty()) {
    return std::optional<batch_record>();
  }
  return std::optional<batch_record>(batch_of(f));
}

result<std::vector<batch_record>> redis_batch_store::load_batches(
    const std::vector<std::string>& ids) {
  std::vector<batch_record> out;
  if (ids.empty()) {
    return out;
  }
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : ids) {
    cmds.push_back({"HGETALL", key("batch", id)});
  }
  auto rows = client_->pipeline_sync(std::move(cmds), opts_.timeout);
  if (!rows) {
    return unavailable(rows.error());
  }
  for (const auto& row : *rows) {
    if (auto f = hash_of(row); !f.empty()) {
      out.push_back(batch_of(f));
    }
  }
  return out;
}

result<std::vector<batch_record>> redis_batch_store::batches(std::string_view after,
                                                             std::size_t limit) {
  std::string bound = "+inf";
  if (!after.empty()) {
    auto s = call({"ZSCORE", key("batches"), std::string(after)});
    if (!s) {
      return s.error();
    }
    if (s->kind == redis_reply::type::nil) {
      return std::vector<batch_record>();
    }
    bound = "(" + s->str;
  }
  auto ids = call(
      {"ZREVRANGEBYSCORE", key("batches"), bound, "-inf", "LIMIT", "0", std::to_string(limit)});
  if (!ids) {
    return ids.error();
  }
  std::vector<std::string> v;
  for (auto& e : ids->elements) {
    v.push_back(std::move(e.str));
  }
  return load_batches(v);
}

result<std::vector<std::string>> redis_batch_store::unfinished() {
  auto ids = call({"ZRANGE", key("open"), "0", "-1"});
  if (!ids) {
    return ids.error();
  }
  std::vector<std::string> out;
  for (auto& e : ids->elements) {
    out.push_back(std::move(e.str));
  }
  return out;
}

result<void> redis_batch_store::save_batch(const batch_record& b) {
  std::vector<std::string> pairs, absent;
  batch_pairs(b, pairs, &absent);
  std::vector<std::string> args{b.id, is_terminal(b.status) ? "1" : "0",
                                std::to_string(pairs.size() / 2)};
  args.insert(args.end(), pairs.begin(), pairs.end());
  args.insert(args.end(), absent.begin(), absent.end());
  auto r = eval(save_batch_script(), {key("batch", b.id), key("open")}, std::move(args));
  if (!r) {
    return r.error();
  }
  return {};
}

result<bool> redis_batch_store::move_batch(std::string_view id, batch_status from, batch_status to,
                                           std::int64_t at) {
  auto r =
      eval(move_batch_script(), {key("batch", id), key("open")},
           {std::string(to_string(from)), std::string(to_string(to)), status_timestamp_name(to),
            std::to_string(at), std::string(id), is_terminal(to) ? "1" : "0"});
  if (!r) {
    return r.error();
  }
  return r->integer == 1;
}

// ---- lines ----

result<void> redis_batch_store::clear_lines(std::string_view batch_id) {
  auto r = call({"DEL", key("refs", batch_id), key("cids", batch_id), key("pending", batch_id),
                 key("results", batch_id), key("out", batch_id), key("err", batch_id)});
  if (!r) {
    return r.error();
  }
  return {};
}

result<std::vector<std::int64_t>> redis_batch_store::add_lines(
    std::string_view batch_id, const std::vector<batch_line_ref>& lines) {
  std::vector<std::string> args;
  args.reserve(lines.size() * 3);
  for (const auto& l : lines) {
    args.push_back(std::to_string(l.line_no));
    args.push_back(l.custom_id);
    args.push_back(encode_ref(l));
  }
  auto r = eval(add_lines_script(),
                {key("cids", batch_id), key("refs", batch_id), key("pending", batch_id)},
                std::move(args));
  if (!r) {
    return r.error();
  }
  std::vector<std::int64_t> dup;
  for (const auto& e : r->elements) {
    dup.push_back(e.integer);
  }
  return dup;
}

result<std::vector<batch_line_ref>> redis_batch_store::pending(std::string_view batch_id,
                                                               std::int64_t after_line,
                                                               std::size_t limit) {
  auto ids = call({"ZRANGEBYSCORE", key("pending", batch_id), "(" + std::to_string(after_line),
                   "+inf", "LIMIT", "0", std::to_string(limit)});
  if (!ids) {
    return ids.error();
  }
  std::vector<batch_line_ref> out;
  if (ids->elements.empty()) {
    return out;
  }
  std::vector<std::string> cmd{"HMGET", key("refs", batch_id)};
  for (const auto& e : ids->elements) {
    cmd.push_back(e.str);
  }
  auto refs = call(std::move(cmd));
  if (!refs) {
    return refs.error();
  }
  for (std::size_t i = 0; i < ids->elements.size() && i < refs->elements.size(); ++i) {
    if (refs->elements[i].kind != redis_reply::type::nil) {
      out.push_back(decode_ref(to_i64(ids->elements[i].str), refs->elements[i].str));
    }
  }
  return out;
}

result<bool> redis_batch_store::record(std::string_view batch_id, const batch_line_result& res) {
  auto r = eval(record_script(),
                {key("refs", batch_id), key("results", batch_id), key("pending", batch_id),
                 key("out", batch_id), key("err", batch_id), key("batch", batch_id)},
                {std::to_string(res.line_no), res.ok ? "1" : "0", res.output,
                 std::to_string(res.usage.input_tokens), std::to_string(res.usage.output_tokens),
                 real_text(res.cost_usd)});
  if (!r) {
    return r.error();
  }
  return r->integer == 1;
}

result<void> redis_batch_store::for_each_result(
    std::string_view batch_id, bool ok, const std::function<result<void>(std::string_view)>& fn) {
  const auto index = key(ok ? "out" : "err", batch_id);
  std::int64_t after = 0;
  for (;;) {
    auto ids = call({"ZRANGEBYSCORE", index, "(" + std::to_string(after), "+inf", "LIMIT", "0",
                     std::to_string(result_page)});
    if (!ids) {
      return ids.error();
    }
    if (ids->elements.empty()) {
      return {};
    }
    std::vector<std::string> cmd{"HMGET", key("results", batch_id)};
    for (const auto& e : ids->elements) {
      cmd.push_back(e.str);
    }
    auto rows = call(std::move(cmd));
    if (!rows) {
      return rows.error();
    }
    for (const auto& row : rows->elements) {
      if (row.kind != redis_reply::type::nil) {
        if (auto r = fn(row.str); !r) {
          return r;
        }
      }
    }
    after = to_i64(ids->elements.back().str);
  }
}

// ---- leases ----

result<bool> redis_batch_store::claim_lease(std::string_view batch_id, std::string_view owner,
                                            std::chrono::milliseconds ttl) {
  auto r = eval(claim_script(), {key("lease", batch_id)},
                {std::string(owner), std::to_string(ttl.count())});
  if (!r) {
    return r.error();
  }
  return r->integer == 1;
}

result<void> redis_batch_store::release_lease(std::string_view batch_id, std::string_view owner) {
  auto r = eval(release_script(), {key("lease", batch_id)}, {std::string(owner)});
  if (!r) {
    return r.error();
  }
  return {};
}

}  // namespace switchyard
