#include "switchyard/experiments/store.hpp"

namespace switchyard {

std::int64_t hour_of(std::int64_t unix_seconds) noexcept {
  // Truncating division, as the stores' SQL does; timestamps before 1970 do not occur.
  return unix_seconds / 3600 * 3600;
}

}  // namespace switchyard
