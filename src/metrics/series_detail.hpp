#pragma once
// Private to src/metrics: argument checks shared by the series (series.cpp) and the registry
// (registry.cpp), which validates histogram bounds before registering a family.

#include <cstddef>
#include <vector>

namespace switchyard::metrics::detail {

/// `shards`, or throws std::invalid_argument when it is 0 (a bug in the caller).
std::size_t at_least_one(std::size_t shards);

/// Finite, strictly increasing bounds with a trailing +Inf dropped (that bucket always exists);
/// throws std::invalid_argument otherwise.
std::vector<double> normalized_bounds(std::vector<double> bounds);

}  // namespace switchyard::metrics::detail
