#include "raft/in_memory_snapshot_store.h"

namespace raft {

class InMemorySnapshotWriter final : public SnapshotFileWriter {
 public:
  InMemorySnapshotWriter(InMemorySnapshotStore& store, Index index) : store_(store), index_(index) {}
  Status append(std::string_view bytes) override {
    bytes_.append(bytes);
    return {};
  }
  std::uint64_t size() const override { return bytes_.size(); }
  Status commit() override {
    std::lock_guard lock(store_.mutex_);
    store_.files_[index_] = std::move(bytes_);
    bytes_.clear();
    return {};
  }

 private:
  InMemorySnapshotStore& store_;
  Index index_;
  std::string bytes_;
};

Result<std::unique_ptr<SnapshotFileWriter>> InMemorySnapshotStore::create(Index index) {
  return std::unique_ptr<SnapshotFileWriter>(std::make_unique<InMemorySnapshotWriter>(*this, index));
}

Result<std::string> InMemorySnapshotStore::read(Index index, std::uint64_t offset, std::size_t length) {
  std::lock_guard lock(mutex_);
  auto found = files_.find(index);
  if (found == files_.end())
    return Error{ErrorCode::kStorage, "no snapshot at index " + std::to_string(index)};
  if (offset >= found->second.size()) return std::string();
  return found->second.substr(offset, length);
}

Result<std::uint64_t> InMemorySnapshotStore::size(Index index) {
  std::lock_guard lock(mutex_);
  auto found = files_.find(index);
  if (found == files_.end())
    return Error{ErrorCode::kStorage, "no snapshot at index " + std::to_string(index)};
  return static_cast<std::uint64_t>(found->second.size());
}

Status InMemorySnapshotStore::remove_all_except(Index keep) {
  std::lock_guard lock(mutex_);
  std::erase_if(files_, [keep](const auto& file) { return file.first != keep; });
  return {};
}

Status InMemorySnapshotStore::remove_before(Index index) {
  std::lock_guard lock(mutex_);
  files_.erase(files_.begin(), files_.lower_bound(index));
  return {};
}

Status InMemorySnapshotStore::remove(Index index) {
  std::lock_guard lock(mutex_);
  files_.erase(index);
  return {};
}

}  // namespace raft
