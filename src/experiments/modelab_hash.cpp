#include "switchyard/experiments/modelab_hash.hpp"

#include <openssl/evp.h>

#include <cmath>

namespace switchyard {

std::uint32_t modelab_bucket(std::string_view flag_name, std::string_view user_id) noexcept {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // MD5 is modelab's choice (not a security property here): it only spreads ids over buckets.
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, flag_name.data(), flag_name.size()) == 1 &&
                  EVP_DigestUpdate(ctx, ":", 1) == 1 &&
                  EVP_DigestUpdate(ctx, user_id.data(), user_id.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    return 0;  // only on allocation failure inside OpenSSL
  }
  // int(hex, 16) % 10000 without a 128-bit integer: Horner's rule over the bytes, mod 10000 at
  // every step (256·9999 + 255 fits easily in 32 bits).
  std::uint32_t r = 0;
  for (unsigned int i = 0; i < len; ++i) {
    r = (r * 256u + digest[i]) % modelab_buckets;
  }
  return r;
}

std::uint32_t modelab_threshold(double rollout_pct) noexcept {
  const double t = rollout_pct / 100 * 10000;  // Python evaluates left to right, in doubles
  if (!(t > 0)) {
    return 0;
  }
  if (t >= modelab_buckets) {
    return modelab_buckets;
  }
  return static_cast<std::uint32_t>(std::trunc(t));
}

int modelab_variant(std::uint32_t bucket, std::span<const std::uint64_t> weights) noexcept {
  if (weights.empty()) {
    return -1;
  }
  std::uint64_t total = 0;
  for (const auto w : weights) {
    total += w;
  }
  if (total == 0) {
    return 0;
  }
  const std::uint64_t point = bucket % total;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    running += weights[i];
    if (running > point) {
      return static_cast<int>(i);
    }
  }
  return static_cast<int>(weights.size()) - 1;  // unreachable: running ends at total > point
}

int modelab_assign(std::string_view flag_name, std::string_view user_id, std::uint32_t threshold,
                   std::span<const std::uint64_t> weights, std::uint32_t* bucket_out) noexcept {
  const std::uint32_t bucket = modelab_bucket(flag_name, user_id);
  if (bucket_out != nullptr) {
    *bucket_out = bucket;
  }
  if (bucket >= threshold) {
    return -1;
  }
  return modelab_variant(bucket, weights);
}

}  // namespace switchyard
