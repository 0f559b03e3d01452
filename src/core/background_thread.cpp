#include "switchyard/core/background_thread.hpp"

#include <pthread.h>

#include <cstring>

namespace switchyard {

void name_thread(const char* name) noexcept {
  char shortened[16] = {};
  std::strncpy(shortened, name, sizeof shortened - 1);
  (void)pthread_setname_np(pthread_self(), shortened);
}

}  // namespace switchyard
