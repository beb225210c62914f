// power_loss_fs: a FUSE file system whose power can fail. It passes every
// call through to a backing directory, except that the data a program
// writes (and the truncations it makes) stay in this process's memory, as in
// a kernel's page cache, until the program fsyncs or fdatasyncs the file.
// When the file system stops -- SIGTERM, SIGINT or an unmount -- the power
// fails: the backing directory keeps what was synced, and of the rest
// whatever a disk might hold after a power failure (VolatileFile::lose_power:
// none of it, or any subset of its pages, some torn), chosen by --seed.
// Mount again on the same backing directory to "turn the power back on".
//
// SIGUSR1 breaks the disk instead: from then on every write, sync,
// truncation and creation fails with EIO (reads still work), as a failing
// drive's do -- for tests of what a program does when its disk fails.
//
// Metadata (creating, renaming, linking and removing files and directories)
// goes to the backing directory at once, as a journalling file system's
// metadata does once its journal commits; so a file renamed before its data
// was synced comes back with only what was synced -- ext4's behaviour after
// a crash without auto_da_alloc. LazyFS (Alves et al., 2023) is the model;
// this one is smaller and lives with the tests that use it.
//
//   power_loss_fs --backing DIR [--seed N] MOUNTPOINT
//
// It runs in the foreground, single-threaded (FUSE queues the requests), as
// root; the tests start it and stop it by PID. On exit it prints one line
// saying what the power failure kept.

#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/powerloss/volatile_file.h"

namespace {

using raftkv::powerloss::PowerLossReport;
using raftkv::powerloss::VolatileFile;

// An open file: the backing file's descriptor (read-write for regular files,
// so that any handle can sync its file) and whether the program asked for
// synchronous writes (O_SYNC, O_DSYNC).
struct Handle {
  int fd = -1;
  ino_t inode = 0;
  bool synchronous = false;
};

// The whole file system's state. FUSE runs it on one thread, so nothing
// here is locked.
struct PowerLossFs {
  int backing = -1;  // the backing directory
  std::mt19937_64 random;
  // Files with writes not yet synced, by the backing file's inode (renames
  // and hard links keep it; a file removed while open keeps it too).
  std::unordered_map<ino_t, std::unique_ptr<VolatileFile>> unsynced;
  std::unordered_map<ino_t, int> open_handles;
};

PowerLossFs& fs() {
  static PowerLossFs state;
  return state;
}

// Set by SIGUSR1: the disk has failed (see the top of this file).
volatile std::sig_atomic_t disk_broken = 0;

void break_disk(int) {
  disk_broken = 1;
}

// FUSE paths start with '/'; the *at() calls take them relative to the
// backing directory.
const char* relative(const char* path) {
  return path[1] == '\0' ? "." : path + 1;
}

Handle& handle(const fuse_file_info* info) {
  return *reinterpret_cast<Handle*>(info->fh);
}

VolatileFile* unsynced(ino_t inode) {
  auto found = fs().unsynced.find(inode);
  return found == fs().unsynced.end() ? nullptr : found->second.get();
}

// The file's volatile state, made on its first unsynced change from a
// descriptor of its own (the handle that changed it may close first).
VolatileFile* make_unsynced(ino_t inode, int fd) {
  if (VolatileFile* existing = unsynced(inode)) return existing;
  const int own = ::dup(fd);
  if (own < 0) return nullptr;
  return (fs().unsynced[inode] = std::make_unique<VolatileFile>(own)).get();
}

// A file nobody can reach any more (no name, no open handle) takes its
// unsynced writes with it.
void forget_if_unreachable(ino_t inode) {
  VolatileFile* file = unsynced(inode);
  if (file == nullptr || fs().open_handles.contains(inode)) return;
  struct stat status {};
  if (::fstat(file->backing_fd(), &status) == 0 && status.st_nlink == 0) fs().unsynced.erase(inode);
}

int result(int returned) {
  return returned < 0 ? -errno : 0;
}

void* fs_init(fuse_conn_info* connection, fuse_config* config) {
  // Inode numbers are the backing files': the unsynced state is keyed by them.
  config->use_ino = 1;
  // A file removed while open is removed at once (no .fuse_hidden files);
  // its handles keep working on their descriptors.
  config->hard_remove = 1;
  config->nullpath_ok = 1;
  // Every write must reach this process when the program makes it.
  connection->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  return nullptr;
}

int fs_getattr(const char* path, struct stat* status, fuse_file_info* info) {
  const int got = info != nullptr ? ::fstat(handle(info).fd, status)
                                  : ::fstatat(fs().backing, relative(path), status, AT_SYMLINK_NOFOLLOW);
  if (got != 0) return -errno;
  if (S_ISREG(status->st_mode)) {
    if (const VolatileFile* file = unsynced(status->st_ino)) {
      status->st_size = static_cast<off_t>(file->size());
      status->st_blocks = static_cast<blkcnt_t>((file->size() + 511) / 512);
    }
  }
  return 0;
}

int fs_access(const char* path, int mask) {
  return result(::faccessat(fs().backing, relative(path), mask, AT_SYMLINK_NOFOLLOW));
}

int fs_readlink(const char* path, char* buffer, std::size_t size) {
  const ssize_t length = ::readlinkat(fs().backing, relative(path), buffer, size - 1);
  if (length < 0) return -errno;
  buffer[length] = '\0';
  return 0;
}

int fs_mknod(const char* path, mode_t mode, dev_t device) {
  if (disk_broken) return -EIO;
  return result(::mknodat(fs().backing, relative(path), mode, device));
}

int fs_mkdir(const char* path, mode_t mode) {
  if (disk_broken) return -EIO;
  return result(::mkdirat(fs().backing, relative(path), mode));
}

int fs_rmdir(const char* path) {
  if (disk_broken) return -EIO;
  return result(::unlinkat(fs().backing, relative(path), AT_REMOVEDIR));
}

int fs_unlink(const char* path) {
  if (disk_broken) return -EIO;
  struct stat status {};
  const bool known = ::fstatat(fs().backing, relative(path), &status, AT_SYMLINK_NOFOLLOW) == 0;
  if (::unlinkat(fs().backing, relative(path), 0) != 0) return -errno;
  if (known) forget_if_unreachable(status.st_ino);
  return 0;
}

int fs_symlink(const char* target, const char* path) {
  return result(::symlinkat(target, fs().backing, relative(path)));
}

int fs_rename(const char* from, const char* to, unsigned int flags) {
  if (disk_broken) return -EIO;
  // A file the rename replaces may become unreachable.
  struct stat replaced {};
  const bool replaces = ::fstatat(fs().backing, relative(to), &replaced, AT_SYMLINK_NOFOLLOW) == 0;
  if (::renameat2(fs().backing, relative(from), fs().backing, relative(to), flags) != 0) return -errno;
  if (replaces && (flags & RENAME_EXCHANGE) == 0) forget_if_unreachable(replaced.st_ino);
  return 0;
}

int fs_link(const char* from, const char* to) {
  return result(::linkat(fs().backing, relative(from), fs().backing, relative(to), 0));
}

int fs_chmod(const char* path, mode_t mode, fuse_file_info* info) {
  if (info != nullptr) return result(::fchmod(handle(info).fd, mode));
  return result(::fchmodat(fs().backing, relative(path), mode, 0));
}

int fs_chown(const char* path, uid_t user, gid_t group, fuse_file_info* info) {
  if (info != nullptr) return result(::fchown(handle(info).fd, user, group));
  return result(::fchownat(fs().backing, relative(path), user, group, AT_SYMLINK_NOFOLLOW));
}

int fs_utimens(const char* path, const struct timespec times[2], fuse_file_info* info) {
  if (info != nullptr) return result(::futimens(handle(info).fd, times));
  return result(::utimensat(fs().backing, relative(path), times, AT_SYMLINK_NOFOLLOW));
}

int fs_truncate(const char* path, off_t size, fuse_file_info* info) {
  if (disk_broken) return -EIO;
  int fd = info != nullptr ? handle(info).fd : ::openat(fs().backing, relative(path), O_RDWR | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat status {};
  int outcome = ::fstat(fd, &status) == 0 ? 0 : -errno;
  if (outcome == 0) {
    VolatileFile* file = make_unsynced(status.st_ino, fd);
    outcome = file != nullptr ? file->truncate(size) : -errno;
  }
  if (info == nullptr) ::close(fd);
  return outcome;
}

// Opens the backing file read-write whatever the program asked (any handle
// may have to sync the file), without the flags this file system carries
// out itself: O_TRUNC and O_APPEND (the kernel gives append writes their
// offsets) and O_DIRECT (the bytes stay in memory anyway).
int open_backing(const char* path, int flags, mode_t mode, fuse_file_info* info) {
  if (disk_broken && (flags & O_TRUNC) != 0) return -EIO;
  const int kept = (flags & ~(O_ACCMODE | O_TRUNC | O_APPEND | O_DIRECT | O_NOCTTY)) | O_CLOEXEC;
  int fd = ::openat(fs().backing, relative(path), kept | O_RDWR, mode);
  if (fd < 0 && (errno == EISDIR || errno == EACCES || errno == EROFS || errno == ETXTBSY)) {
    fd = ::openat(fs().backing, relative(path), kept | (flags & O_ACCMODE), mode);
  }
  if (fd < 0) return -errno;
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    const int error = -errno;
    ::close(fd);
    return error;
  }
  if ((flags & O_TRUNC) != 0 && S_ISREG(status.st_mode)) {
    VolatileFile* file = make_unsynced(status.st_ino, fd);
    if (file == nullptr || file->truncate(0) != 0) {
      ::close(fd);
      return -EIO;
    }
  }
  auto* opened = new Handle{fd, status.st_ino, (flags & O_DSYNC) != 0};
  ++fs().open_handles[status.st_ino];
  info->fh = reinterpret_cast<std::uint64_t>(opened);
  return 0;
}

int fs_open(const char* path, fuse_file_info* info) {
  return open_backing(path, info->flags & ~(O_CREAT | O_EXCL), 0, info);
}

int fs_create(const char* path, mode_t mode, fuse_file_info* info) {
  if (disk_broken) return -EIO;
  return open_backing(path, info->flags | O_CREAT, mode, info);
}

int fs_read(const char*, char* buffer, std::size_t size, off_t offset, fuse_file_info* info) {
  const Handle& opened = handle(info);
  if (const VolatileFile* file = unsynced(opened.inode))
    return static_cast<int>(file->read(buffer, size, offset));
  const ssize_t got = ::pread(opened.fd, buffer, size, offset);
  return got < 0 ? -errno : static_cast<int>(got);
}

int sync_file(ino_t inode) {
  VolatileFile* file = unsynced(inode);
  if (file == nullptr) return 0;
  if (int failed = file->sync(); failed != 0) return failed;
  fs().unsynced.erase(inode);
  return 0;
}

int fs_write(const char*, const char* data, std::size_t size, off_t offset, fuse_file_info* info) {
  if (disk_broken) return -EIO;
  const Handle& opened = handle(info);
  VolatileFile* file = make_unsynced(opened.inode, opened.fd);
  if (file == nullptr) return -errno;
  const ssize_t written = file->write(data, size, offset);
  if (written >= 0 && opened.synchronous) {
    if (int failed = sync_file(opened.inode); failed != 0) return failed;
  }
  return static_cast<int>(written);
}

int fs_fallocate(const char*, int mode, off_t offset, off_t length, fuse_file_info* info) {
  if (disk_broken) return -EIO;
  // Reserving space changes nothing a program can read; growing the file is
  // a write of zeros, volatile like any other.
  if (mode == FALLOC_FL_KEEP_SIZE) return 0;
  if (mode != 0) return -EOPNOTSUPP;
  const Handle& opened = handle(info);
  VolatileFile* file = make_unsynced(opened.inode, opened.fd);
  if (file == nullptr) return -errno;
  const auto end = static_cast<std::uint64_t>(offset + length);
  return end > file->size() ? file->truncate(static_cast<off_t>(end)) : 0;
}

int fs_fsync(const char*, int, fuse_file_info* info) {
  if (disk_broken) return -EIO;
  return sync_file(handle(info).inode);
}

int fs_flush(const char*, fuse_file_info*) {
  return 0;  // close() makes nothing durable
}

int fs_release(const char*, fuse_file_info* info) {
  std::unique_ptr<Handle> opened(&handle(info));
  ::close(opened->fd);
  if (--fs().open_handles[opened->inode] == 0) fs().open_handles.erase(opened->inode);
  forget_if_unreachable(opened->inode);
  return 0;
}

int fs_statfs(const char*, struct statvfs* status) {
  return result(::fstatvfs(fs().backing, status));
}

int fs_opendir(const char* path, fuse_file_info* info) {
  const int fd = ::openat(fs().backing, relative(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR* directory = ::fdopendir(fd);
  if (directory == nullptr) {
    const int error = -errno;
    ::close(fd);
    return error;
  }
  info->fh = reinterpret_cast<std::uint64_t>(directory);
  return 0;
}

int fs_readdir(const char*, void* buffer, fuse_fill_dir_t fill, off_t, fuse_file_info* info,
               fuse_readdir_flags) {
  DIR* directory = reinterpret_cast<DIR*>(info->fh);
  ::rewinddir(directory);
  while (const dirent* entry = ::readdir(directory)) {
    struct stat status {};
    status.st_ino = entry->d_ino;
    status.st_mode = static_cast<mode_t>(DTTOIF(entry->d_type));
    if (fill(buffer, entry->d_name, &status, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int fs_releasedir(const char*, fuse_file_info* info) {
  ::closedir(reinterpret_cast<DIR*>(info->fh));
  return 0;
}

int fs_fsyncdir(const char*, int, fuse_file_info*) {
  if (disk_broken) return -EIO;
  return 0;  // metadata reaches the backing directory at once
}

// The power fails: each file with unsynced writes leaves on the backing
// disk what lose_power() chose.
void power_fails() {
  std::size_t files = 0, pages = 0, kept = 0, torn = 0, truncations = 0;
  for (auto& [inode, file] : fs().unsynced) {
    const PowerLossReport report = file->lose_power(fs().random);
    ++files;
    pages += report.volatile_pages;
    kept += report.kept_pages;
    torn += report.torn_pages;
    truncations += report.kept_truncation ? 1 : 0;
  }
  fs().unsynced.clear();
  std::fprintf(stderr,
               "power_loss_fs: power failed with %zu files holding %zu unsynced pages; the disk kept %zu of "
               "them (%zu torn) and %zu unsynced truncations\n",
               files, pages, kept, torn, truncations);
}

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr, "power_loss_fs: %s\nusage: power_loss_fs --backing DIR [--seed N] MOUNTPOINT\n",
               problem);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string backing, mountpoint;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--backing" && i + 1 < argc) {
      backing = argv[++i];
    } else if (argument == "--seed" && i + 1 < argc) {
      char* end = nullptr;
      seed = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0') usage("--seed takes a number");
    } else if (!argument.starts_with("-") && mountpoint.empty()) {
      mountpoint = argument;
    } else {
      usage(("unexpected argument " + argument).c_str());
    }
  }
  if (backing.empty() || mountpoint.empty()) usage("--backing and MOUNTPOINT are required");
  fs().backing = ::open(backing.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fs().backing < 0)
    usage(("cannot open the backing directory " + backing + ": " + std::strerror(errno)).c_str());
  fs().random.seed(seed);
  std::signal(SIGUSR1, break_disk);

  fuse_operations operations{};
  operations.init = fs_init;
  operations.getattr = fs_getattr;
  operations.access = fs_access;
  operations.readlink = fs_readlink;
  operations.mknod = fs_mknod;
  operations.mkdir = fs_mkdir;
  operations.rmdir = fs_rmdir;
  operations.unlink = fs_unlink;
  operations.symlink = fs_symlink;
  operations.rename = fs_rename;
  operations.link = fs_link;
  operations.chmod = fs_chmod;
  operations.chown = fs_chown;
  operations.utimens = fs_utimens;
  operations.truncate = fs_truncate;
  operations.open = fs_open;
  operations.create = fs_create;
  operations.read = fs_read;
  operations.write = fs_write;
  operations.fallocate = fs_fallocate;
  operations.fsync = fs_fsync;
  operations.flush = fs_flush;
  operations.release = fs_release;
  operations.statfs = fs_statfs;
  operations.opendir = fs_opendir;
  operations.readdir = fs_readdir;
  operations.releasedir = fs_releasedir;
  operations.fsyncdir = fs_fsyncdir;

  // Foreground, one thread; the kernel checks permissions as for any file.
  std::vector<std::string> fuse_arguments = {
      argv[0],   "-f", "-s", "-o", "fsname=power_loss_fs,subtype=power_loss_fs,default_permissions",
      mountpoint};
  std::vector<char*> fuse_argv;
  for (std::string& argument : fuse_arguments) fuse_argv.push_back(argument.data());
  const int status = fuse_main(static_cast<int>(fuse_argv.size()), fuse_argv.data(), &operations, nullptr);
  // Unmounted: no program can write any more. Now the power fails.
  power_fails();
  return status;
}
