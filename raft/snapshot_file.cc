#include "raft/snapshot_file.h"

#include "raft/storage_record.h"

namespace raft::snapshot_file {

namespace {

constexpr std::string_view kMagic = "RKVSNAP1";
constexpr std::size_t kFrameHeaderBytes = 8;  // length + CRC

std::string frame(std::string_view payload) {
  return storage_record::big_endian(payload.size(), 4) + storage_record::seal(payload);
}

}  // namespace

Encoder::Encoder(SnapshotFileWriter& writer, const pb::SnapshotMetadata& header)
    : writer_(writer), header_(header) {
  header_.set_size(0);
  status_ = writer_.append(std::string(kMagic) + frame(header_.SerializeAsString()));
}

Status Encoder::write(std::string_view block) {
  if (!status_.ok()) return status_;
  if (block.empty()) return {};  // an empty frame means "end"
  if (block.size() > kMaxFrameBytes) {
    return Error{ErrorCode::kInvalidArgument, "snapshot block of " + std::to_string(block.size()) +
                                                  " bytes is over the limit of " +
                                                  std::to_string(kMaxFrameBytes)};
  }
  status_ = writer_.append(frame(block));
  return status_;
}

Result<pb::SnapshotMetadata> Encoder::finish() {
  if (!status_.ok()) return status_.error();
  if (Status written = writer_.append(frame("")); !written.ok()) return written.error();
  pb::SnapshotMetadata result = header_;
  result.set_size(writer_.size());
  return result;
}

Decoder::Decoder(SnapshotStore& store, const pb::SnapshotMetadata& snapshot)
    : store_(store), snapshot_(snapshot) {}

Error Decoder::damaged(const std::string& what) const {
  return Error{ErrorCode::kStorage, "snapshot " + std::to_string(snapshot_.index()) + " is damaged: " + what};
}

Result<std::string> Decoder::read_frame() {
  Result<std::string> head = store_.read(snapshot_.index(), offset_, kFrameHeaderBytes);
  if (!head.ok()) return head.error();
  if (head.value().size() != kFrameHeaderBytes) {
    return damaged("it ends at byte " + std::to_string(offset_) + " without its end mark");
  }
  const std::uint64_t length =
      *storage_record::from_big_endian(std::string_view(head.value()).substr(0, 4), 4);
  if (length > kMaxFrameBytes) {
    return damaged("a frame at byte " + std::to_string(offset_) + " claims " + std::to_string(length) +
                   " bytes");
  }
  Result<std::string> body = store_.read(snapshot_.index(), offset_ + kFrameHeaderBytes, length);
  if (!body.ok()) return body.error();
  if (body.value().size() != length)
    return damaged("the frame at byte " + std::to_string(offset_) + " is cut off");
  const std::string record = head.value().substr(4) + body.value();
  const std::optional<std::string_view> payload = storage_record::open(record);
  if (!payload) return damaged("the frame at byte " + std::to_string(offset_) + " fails its checksum");
  offset_ += kFrameHeaderBytes + length;
  return std::string(*payload);
}

Result<pb::SnapshotMetadata> Decoder::read_header() {
  Result<std::string> magic = store_.read(snapshot_.index(), 0, kMagic.size());
  if (!magic.ok()) return magic.error();
  if (magic.value() != kMagic) return damaged("it does not start with the snapshot file's mark");
  offset_ = kMagic.size();
  Result<std::string> header_frame = read_frame();
  if (!header_frame.ok()) return header_frame.error();
  pb::SnapshotMetadata header;
  if (!header.ParseFromString(header_frame.value())) return damaged("its header is unreadable");
  return header;
}

Result<pb::SnapshotMetadata> read_metadata(SnapshotStore& store, Index index) {
  pb::SnapshotMetadata probe;
  probe.set_index(index);
  Decoder decoder(store, probe);
  Result<pb::SnapshotMetadata> read = decoder.read_header();
  if (!read.ok()) return read;
  Result<std::uint64_t> size = store.size(index);
  if (!size.ok()) return size.error();
  pb::SnapshotMetadata header = std::move(read).value();
  header.set_size(size.value());
  return header;
}

Result<bool> Decoder::next(std::string& block) {
  if (ended_) return false;
  if (!header_checked_) {
    Result<pb::SnapshotMetadata> header = read_header();
    if (!header.ok()) return header.error();
    if (header.value().index() != snapshot_.index() || header.value().term() != snapshot_.term()) {
      return damaged("its header does not name snapshot " + std::to_string(snapshot_.index()) + " at term " +
                     std::to_string(snapshot_.term()));
    }
    header_checked_ = true;
  }
  Result<std::string> payload = read_frame();
  if (!payload.ok()) return payload.error();
  if (payload.value().empty()) {
    ended_ = true;
    if (offset_ != snapshot_.size()) {
      return damaged("its end mark is at byte " + std::to_string(offset_) + " of " +
                     std::to_string(snapshot_.size()));
    }
    return false;
  }
  block = std::move(payload).value();
  return true;
}

Status verify(SnapshotStore& store, const pb::SnapshotMetadata& snapshot) {
  Decoder decoder(store, snapshot);
  std::string block;
  while (true) {
    Result<bool> more = decoder.next(block);
    if (!more.ok()) return more.error();
    if (!more.value()) return {};
  }
}

}  // namespace raft::snapshot_file
