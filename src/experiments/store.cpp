#include "switchyard/experiments/store.hpp"

namespace switchyard {

std::int64_t hour_of(std::int64_t unix_seconds) noexcept {
  // Truncating division, as the stores' SQL does; timestamps before 1970 do not occur.
  return unix_seconds / 3600 * 3600;
}

result<experiment_control> experiment_store::update_control(
    std::string_view experiment, const std::function<void(experiment_control&)>& edit) {
  auto all = load_controls();
  if (!all) {
    return all.error();
  }
  experiment_control c;
  c.experiment = std::string(experiment);
  for (auto& stored : *all) {
    if (stored.experiment == experiment) {
      c = std::move(stored);
    }
  }
  edit(c);
  if (auto r = save_control(c); !r) {
    return r.error();
  }
  return c;
}

}  // namespace switchyard
