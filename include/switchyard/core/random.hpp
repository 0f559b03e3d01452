#pragma once

#include <cstdint>

namespace switchyard {

/// One fast per-thread generator (seeded once from std::random_device) for what needs spread,
/// not secrecy: retry jitter, sampling, unlabelled assignment draws, nonces. No lock, no syscall
/// after the first call on a thread. Signing keys use OpenSSL's RAND_bytes instead.
std::uint64_t random_u64() noexcept;

/// Uniform in [0, 1).
double random01() noexcept;

}  // namespace switchyard
