// The pure parts of the Redis client: URL parsing, RESP encoding and decoding through hiredis's
// reader and formatter, script digests. No I/O here (redis_client.cpp has it).
#include "switchyard/store/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <charconv>
#include <memory>

namespace switchyard {

redis_script::redis_script(std::string src) : source(std::move(src)) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(source.data(), source.size(), md, &n, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 of a Redis script failed");
  }
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; ++i) {
    sha1.push_back(hex[md[i] >> 4]);
    sha1.push_back(hex[md[i] & 15]);
  }
}

redis_reply convert_redis_reply(const void* hiredis_reply) {
  const auto* r = static_cast<const redisReply*>(hiredis_reply);
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.kind = redis_reply::type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = redis_reply::type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = redis_reply::type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = redis_reply::type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = redis_reply::type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(convert_redis_reply(r->element[i]));
      }
      break;
    default:  // REDIS_REPLY_NIL (and a nil array)
      break;
  }
  return out;
}

result<std::vector<redis_reply>> parse_redis_replies(std::string_view bytes) {
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(),
                                                                  &redisReaderFree);
  if (!reader) {
    return make_error(errc::internal, "redis: out of memory");
  }
  if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) {
    return make_error(errc::unavailable, "redis: protocol error");
  }
  std::vector<redis_reply> out;
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
      return make_error(errc::unavailable, std::string("redis: protocol error: ") + reader->errstr);
    }
    if (!reply) {
      return out;
    }
    out.push_back(convert_redis_reply(reply));
    freeReplyObject(reply);
  }
}

std::string format_redis_command(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n =
      redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  if (n < 0 || !cmd) {
    throw std::bad_alloc();
  }
  std::string out(cmd, static_cast<std::size_t>(n));
  redisFreeCommand(cmd);
  return out;
}

}  // namespace switchyard
