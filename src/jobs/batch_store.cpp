#include "switchyard/jobs/batch_store.hpp"

namespace switchyard {

result<void> for_each_content_piece(batch_store& store, std::string_view id, std::uint64_t offset,
                                    const std::function<result<void>(std::string_view)>& fn) {
  for (;;) {
    auto piece = store.read_content(id, offset, content_piece_bytes);
    if (!piece) {
      return piece.error();
    }
    if (piece->empty()) {
      return {};
    }
    offset += piece->size();
    if (auto r = fn(*piece); !r) {
      return r;
    }
  }
}

}  // namespace switchyard
